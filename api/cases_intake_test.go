package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
)

// Retries of one report sent at once (a phone on a flaky network) make one
// case: the first to commit answers 201, the others the same case with 200,
// and the losers leave no case, event or key behind. A missing object
// refuses the report whole.
func TestCaseIntakeConcurrentRetries(t *testing.T) {
	e := beijingEnv(t)
	inspector := e.token("inspector", "")
	body, _ := json.Marshal(map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E0504", "source": "inspector",
		"description": "同一条上报，重发八次", "photo_urls": []string{"https://example.org/p/1.jpg"}})
	type answer struct {
		status int
		code   string
		err    error
	}
	const n = 8
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", e.url+"/api/v1/cases", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+inspector)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "retry-storm-1")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				answers[i].err = err
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			var c struct{ Code string }
			answers[i] = answer{status: res.StatusCode, err: json.Unmarshal(b, &c), code: c.Code}
			if res.StatusCode >= 300 {
				answers[i].err = fmt.Errorf("%d %s", res.StatusCode, b)
			}
		}()
	}
	wg.Wait()
	created := 0
	for i, a := range answers {
		if a.err != nil {
			t.Fatalf("retry %d: %v", i, a.err)
		}
		if a.code != answers[0].code {
			t.Errorf("retry %d answered %s, retry 0 %s", i, a.code, answers[0].code)
		}
		if a.status == http.StatusCreated {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d answers said created, want 1", created)
	}
	var cases, events, keys, photos int
	if err := e.store.Pool().QueryRow(t.Context(), `SELECT
		(SELECT count(*) FROM cases WHERE description = '同一条上报，重发八次'),
		(SELECT count(*) FROM case_events e JOIN cases c ON c.id = e.case_id WHERE c.description = '同一条上报，重发八次'),
		(SELECT count(*) FROM case_requests WHERE key = 'retry-storm-1'),
		(SELECT count(*) FROM case_photos WHERE url = 'https://example.org/p/1.jpg')`).Scan(&cases, &events, &keys, &photos); err != nil {
		t.Fatal(err)
	}
	if cases != 1 || events != 1 || keys != 1 || photos != 1 {
		t.Errorf("stored %d cases, %d events, %d keys, %d photo links; want one each", cases, events, keys, photos)
	}

	// An object that does not exist: 422 naming it, and nothing stored.
	before := e.count("cases")
	r := e.do("POST", "/api/v1/cases", inspector, map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E0504",
		"source": "inspector", "object_id": 987654321, "photo_urls": []string{"https://example.org/p/2.jpg"}})
	if _, f := r.errField(t); r.status != 422 || f != "object_id" {
		t.Errorf("unknown object: %d %s", r.status, r.body)
	}
	if got := e.count("cases"); got != before {
		t.Errorf("%d cases after the refused report, %d before", got, before)
	}
}
