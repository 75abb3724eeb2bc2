package grids

// contains is kept until the importer moves to grids/ingest.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
