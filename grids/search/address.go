package search

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// What a hotline address says, read without the database: the text with
// the noise around a place taken off, and the ways it may name a crossing
// of two streets.

// normalizeAddress folds full-width letters, digits and punctuation
// (＆, ／, １２号) to their ASCII forms, collapses spaces and drops the
// words around a place that name no place (附近, 东北角, 门口 …).
func normalizeAddress(s string) string {
	s = width.Fold.String(s)
	s = strings.Join(strings.Fields(s), " ")
	s = strings.TrimRightFunc(s, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) })
	for {
		t := trimNoise(s)
		if t == s {
			return s
		}
		s = t
	}
}

var noiseSuffixes = []string{
	"东北角", "东南角", "西北角", "西南角", "东北侧", "东南侧", "西北侧", "西南侧",
	"东侧", "西侧", "南侧", "北侧", "东边", "西边", "南边", "北边", "东面", "西面", "南面", "北面",
	"附近", "旁边", "周边", "一带", "对面", "门口", "门前", "路边", "旁", "处",
}

func trimNoise(s string) string {
	for _, suf := range noiseSuffixes {
		if t, ok := strings.CutSuffix(s, suf); ok && utf8.RuneCountInString(t) >= 2 {
			return strings.TrimSpace(t)
		}
	}
	return s
}

// cityPrefix is a province-level name at the start of an address; the
// districts below it are regions in the database and are read there.
var cityPrefix = regexp.MustCompile(`^(北京|上海|天津|重庆)市?|^\p{Han}{2,7}?(省|自治区)`)

// houseNumber is a house, building or lane number and whatever follows it:
// citygrid has no address points, so the street or compound before it is
// the place.
var houseNumber = regexp.MustCompile(`(甲|乙|丙)?([0-9]+|[零一二三四五六七八九十百]+)(号院|号楼|号|弄|栋|幢|单元|支弄).*$`)

func stripHouseNumber(s string) string {
	loc := houseNumber.FindStringIndex(s)
	if loc == nil || loc[0] == 0 {
		return s
	}
	return strings.TrimSpace(s[:loc[0]])
}

// crossingSuffixes end an address that names a crossing; "口" alone counts
// after a street's last character (成府路口).
var crossingSuffixes = []string{"十字路口", "丁字路口", "交叉路口", "交叉口", "交汇处", "交会处", "交界处", "交汇", "交叉", "交口", "路口"}

// separators join two street names in a crossing.
var separators = []string{"与", "和", "跟", "同", "及", "/", "、", "&", "+", "交", " "}

// roadEnds are the last characters of street names, where a crossing
// written without a separator (成府路中关村东路口) may be split.
var roadEnds = []string{"路", "街", "道", "巷", "弄", "胡同", "桥"}

type crossing struct {
	a, b   string
	marked bool // a crossing word or separator says so, not only a split after a road's end
}

// crossings lists the ways an address may name two streets, the likeliest
// first: splits at a separator, then splits after a road's end. marked says
// whether the address ends with a crossing word or joins two parts with a
// separator.
func crossings(s string) (splits []crossing, marked bool) {
	for _, suf := range crossingSuffixes {
		if t, ok := strings.CutSuffix(s, suf); ok {
			if suf == "路口" && !endsWithRoad(t) {
				t += "路" // 成府路口: the 路 is the street's; 成府路路口 has its own
			}
			s, marked = t, true
			break
		}
	}
	if !marked {
		if t, ok := strings.CutSuffix(s, "口"); ok && endsWithRoad(t) {
			s, marked = t, true
		}
	}
	seen := map[[2]string]bool{}
	add := func(a, b string, sep bool) {
		a, b = strings.TrimSpace(a), strings.TrimSpace(b)
		if utf8.RuneCountInString(a) < 2 || utf8.RuneCountInString(b) < 2 || seen[[2]string{a, b}] {
			return
		}
		seen[[2]string{a, b}] = true
		splits = append(splits, crossing{a: a, b: b, marked: sep || marked})
		marked = marked || sep
	}
	for _, sep := range separators {
		for i := 0; ; {
			j := strings.Index(s[i:], sep)
			if j < 0 {
				break
			}
			at := i + j
			add(s[:at], s[at+len(sep):], sep != " ")
			i = at + len(sep)
		}
	}
	for _, end := range roadEnds {
		for i := 0; ; {
			j := strings.Index(s[i:], end)
			if j < 0 {
				break
			}
			at := i + j + len(end)
			if at < len(s) {
				add(s[:at], s[at:], false)
			}
			i = at
		}
	}
	return splits, marked
}

func endsWithRoad(s string) bool {
	for _, end := range roadEnds {
		if strings.HasSuffix(s, end) {
			return true
		}
	}
	return false
}
