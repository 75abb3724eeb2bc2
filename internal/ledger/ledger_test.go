package ledger

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/xuri/excelize/v2"
)

// grids is a month's ledger of units or grids as the statistics write it:
// codes and names, counts and rates.
func grids(n int) Table {
	t := Table{Sheet: "网格", Columns: []Column{{Header: "网格编码"}, {Header: "名称", Width: 24},
		{Header: "应处置", Kind: Int}, {Header: "按期处置", Kind: Int}, {Header: "按期处置率", Kind: Percent},
		{Header: "结案率", Kind: Percent}, {Header: "按时立案率", Kind: Percent}, {Header: "准确派遣率", Kind: Percent},
		{Header: "返工率", Kind: Percent}, {Header: "退回", Kind: Int}, {Header: "平均处置工时", Kind: Number}, {Header: "排名", Kind: Int}}}
	for i := range n {
		rate := float64(i%100) / 100
		t.Rows = append(t.Rows, []any{fmt.Sprintf("110108%06d", i), fmt.Sprintf("海淀区第%d网格", i), i % 40, i % 30,
			rate, rate, nil, rate, 1 - rate, i % 3, float64(i%500) / 7, i + 1})
	}
	return t
}

// The workbook opens as Excel would read it: the sheet, its header, a
// text, a number and a rate where they were written.
func TestWriteXLSXReadsBack(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteXLSX(&buf, grids(3000)); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for cell, want := range map[string]string{"A1": "网格编码", "B3001": "海淀区第2999网格", "C3001": "39", "E2": "0.00%", "E3": "1.00%", "G2": ""} {
		if got, err := f.GetCellValue("网格", cell); err != nil || got != want {
			t.Errorf("%s: %q (%v), want %q", cell, got, err, want)
		}
	}
}

func BenchmarkWriteXLSX(b *testing.B) {
	t := grids(20000)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		var buf bytes.Buffer
		if err := WriteXLSX(&buf, t); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "bytes")
}
