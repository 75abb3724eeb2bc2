package main

import "testing"

func TestServeProcs(t *testing.T) {
	for _, c := range []struct {
		name    string
		asked   int
		fromEnv bool
		cpus    int
		want    int
	}{
		{"default: four per CPU", 0, false, 2, 8},
		{"the flag wins", 3, true, 2, 3},
		{"GOMAXPROCS in the environment is kept", 0, true, 5, 5},
	} {
		if got := serveProcs(c.asked, c.fromEnv, c.cpus); got != c.want {
			t.Errorf("%s: serveProcs(%d, %v, %d) = %d, want %d", c.name, c.asked, c.fromEnv, c.cpus, got, c.want)
		}
	}
}
