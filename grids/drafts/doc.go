// Package drafts holds planners' drafts of a region's grids: a copy of the
// live grids changed step by step (reshape, add, remove, split, merge,
// derive along the streets), guarded by the draft's revision (the ETag),
// every step kept so that the last ones can be undone, new grids coded by
// the community code and the next sequence never used, and the tiling check
// of grids/coverage run over the draft.
package drafts
