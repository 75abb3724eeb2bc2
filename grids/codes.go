package grids

import (
	"fmt"
	"regexp"
	"strings"
)

// Level is a rung of the administrative hierarchy.
type Level string

const (
	District    Level = "district"
	Subdistrict Level = "subdistrict"
	Community   Level = "community"
)

// Levels lists the levels from the top down.
func Levels() []Level { return []Level{District, Subdistrict, Community} }

// ParseLevel reads a level name.
func ParseLevel(s string) (Level, bool) {
	for _, l := range Levels() {
		if string(l) == s {
			return l, true
		}
	}
	return "", false
}

// Parent is the level directly above l, or "" for a district.
func (l Level) Parent() Level {
	switch l {
	case Subdistrict:
		return District
	case Community:
		return Subdistrict
	}
	return ""
}

// CodeRules are the formats of the codes users see. The defaults follow the
// national practice in DOMAIN.md; a city whose own data uses other codes sets
// its patterns in the configuration.
type CodeRules struct {
	District    *regexp.Regexp
	Subdistrict *regexp.Regexp
	Community   *regexp.Regexp
	Grid        *regexp.Regexp
	Unit        *regexp.Regexp
	// Nested requires a child region's code to start with its parent's
	// significant digits (6 for a district, 9 for a subdistrict) and a grid's
	// code with its community's 12 digits.
	Nested bool
}

// DefaultCodeRules: GB/T 2260 6-digit county codes, 12-digit subdistrict
// (ending 000) and community codes, 15-digit unit-grid codes (community code
// plus a 3-digit sequence, as in DB11/T 2157-2023).
func DefaultCodeRules() CodeRules {
	return CodeRules{
		District:    regexp.MustCompile(`^[1-9][0-9]{5}$`),
		Subdistrict: regexp.MustCompile(`^[1-9][0-9]{8}000$`),
		Community:   regexp.MustCompile(`^[1-9][0-9]{8}(00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})$`),
		Grid:        regexp.MustCompile(`^[1-9][0-9]{11}[0-9]{3}$`),
		Unit:        regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$`),
		Nested:      true,
	}
}

func (r CodeRules) regionPattern(l Level) *regexp.Regexp {
	switch l {
	case District:
		return r.District
	case Subdistrict:
		return r.Subdistrict
	}
	return r.Community
}

// CheckRegionCode says what is wrong with a region code at a level, or "".
func (r CodeRules) CheckRegionCode(l Level, code string) string {
	if re := r.regionPattern(l); re != nil && !re.MatchString(code) {
		return fmt.Sprintf("%q is not a %s code (want %s)", code, l, describe(l))
	}
	return ""
}

// CheckNesting says what is wrong with a child code under its parent, or "".
func (r CodeRules) CheckNesting(child Level, code, parentCode string) string {
	if !r.Nested {
		return ""
	}
	n := 6
	if child == Community {
		n = 9
	}
	if len(parentCode) < n || !strings.HasPrefix(code, parentCode[:n]) {
		return fmt.Sprintf("code %q does not start with its parent %q's first %d digits", code, parentCode, n)
	}
	return ""
}

func describe(l Level) string {
	switch l {
	case District:
		return "6 digits, GB/T 2260"
	case Subdistrict:
		return "12 digits ending in 000"
	}
	return "12 digits, the subdistrict's first 9 then a 3-digit community number"
}

// CheckUnitCode says what is wrong with a unit code, or "".
func (r CodeRules) CheckUnitCode(code string) string {
	if r.Unit != nil && !r.Unit.MatchString(code) {
		return fmt.Sprintf("%q is not a unit code (letters, digits, '_', '.', '-', at most 64)", code)
	}
	return ""
}
