package drafts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/coverage"
)

// Store is this package's access to PostGIS, over the shared pool.
type Store struct {
	pool *pgxpool.Pool
	core *grids.Store
	cov  *coverage.Store
	asg  *grids.AssignmentStore // a publish carries grid assignments through their own writer
}

// NewStore returns the package's store over the core store's pool.
func NewStore(core *grids.Store) *Store {
	return &Store{pool: core.Pool(), core: core, cov: coverage.NewStore(core), asg: grids.NewAssignmentStore(core.Pool())}
}

// Core is the core store the drafts store works over.
func (s *Store) Core() *grids.Store { return s.core }

// Draft is a planner's copy of a region's grids.
type Draft struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Region      string    `json:"region"`
	RegionName  string    `json:"region_name"`
	RegionLevel string    `json:"region_level"`
	Revision    int       `json:"revision"`
	ETag        string    `json:"etag"`
	Grids       int       `json:"grids"`
	AreaM2      float64   `json:"area_m2"`
	Steps       int       `json:"steps"` // changes that can still be undone
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// PublishedAt and PublishedBy are set once the draft is published; a
	// published draft is kept as the record of it and refuses changes.
	PublishedAt *time.Time `json:"published_at,omitempty"`
	PublishedBy *string    `json:"published_by,omitempty"`
	// RollbackTo is the moment a rollback's draft restored.
	RollbackTo *time.Time `json:"rollback_to,omitempty"`
}

// ETag is the draft's entity tag at a revision.
func ETag(id int64, revision int) string { return fmt.Sprintf(`"draft-%d-%d"`, id, revision) }

// StaleError refuses a change made against an older revision of a draft
// (HTTP 412): somebody else changed it since.
type StaleError struct {
	Given, Current string
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("the draft changed since %s: its ETag is now %s; reload it and apply the change again", e.Given, e.Current)
}

// ErrNoStep is an undo with nothing left to undo.
var ErrNoStep = errors.New("nothing to undo")

const draftColumns = `d.id, d.name, r.code, r.name, r.level, d.revision, d.created_by, d.created_at, d.updated_at,
	(SELECT count(*) FROM draft_grids g WHERE g.draft_id = d.id),
	(SELECT COALESCE(sum(g.area_m2), 0) FROM draft_grids g WHERE g.draft_id = d.id),
	(SELECT count(*) FROM draft_steps s WHERE s.draft_id = d.id AND s.undone_at IS NULL AND s.kind <> 'create'),
	d.published_at, d.published_by, d.rollback_to`

func scanDraft(row pgx.Row) (Draft, error) {
	var d Draft
	err := row.Scan(&d.ID, &d.Name, &d.Region, &d.RegionName, &d.RegionLevel, &d.Revision, &d.CreatedBy, &d.CreatedAt, &d.UpdatedAt,
		&d.Grids, &d.AreaM2, &d.Steps, &d.PublishedAt, &d.PublishedBy, &d.RollbackTo)
	d.ETag = ETag(d.ID, d.Revision)
	return d, err
}

// Create copies the live grids of a community or a subdistrict into a new
// draft.
func (s *Store) Create(ctx context.Context, by grids.Principal, region, name string) (Draft, error) {
	var p grids.Problems
	if strings.TrimSpace(name) == "" {
		p.Add("name", "required: a name that says what the draft redraws")
	}
	if region == "" {
		p.Add("region", "required: the code of a community or a subdistrict")
	}
	if err := p.Err(); err != nil {
		return Draft{}, err
	}
	var id int64
	err := s.core.Tx(ctx, func(tx pgx.Tx) error {
		regionID, err := redrawable(ctx, tx, region, "a draft", grids.Invalid("region", "region %q does not exist", region))
		if err != nil {
			return err
		}
		args := pgx.NamedArgs{"region": regionID, "name": strings.TrimSpace(name), "by": by.User}
		err = tx.QueryRow(ctx, `
			INSERT INTO drafts (name, region_id, created_by, base_changed)
			SELECT @name, @region, @by, (SELECT max(GREATEST(g.valid_from, g.valid_to)) FROM grids g
			                             WHERE g.community_id IN (SELECT id FROM regions WHERE id = @region OR parent_id = @region))
			RETURNING id`, args).Scan(&id)
		if err != nil {
			return err
		}
		args["id"] = id
		tag, err := tx.Exec(ctx, `
			INSERT INTO draft_grids (draft_id, code, community_id, name, geom, origin_code, origin_version)
			SELECT @id, g.code, g.community_id, g.name, g.geom, g.code, g.version FROM grids g
			WHERE g.valid_to IS NULL AND g.community_id IN (SELECT id FROM regions WHERE (id = @region OR parent_id = @region) AND level = 'community')
			ORDER BY g.code`, args)
		if err != nil {
			return err
		}
		args["detail"] = map[string]any{"region": region, "copied": tag.RowsAffected()}
		_, err = tx.Exec(ctx, `INSERT INTO draft_steps (draft_id, step, kind, detail, made_by) VALUES (@id, 1, 'create', @detail, @by)`, args)
		return err
	})
	if err != nil {
		return Draft{}, err
	}
	// A draft adds its hundreds of rows at once; without fresh statistics
	// the check's plan over them is a nested loop of every grid with
	// every grid (1.5 s for 1,400 grids instead of 0.23 s).
	if _, err := s.pool.Exec(ctx, `ANALYZE draft_grids`); err != nil {
		return Draft{}, err
	}
	return s.Get(ctx, id)
}

// redrawable is the id of a region a draft (or a rollback) may redraw: a
// community or a subdistrict; missing is the error when there is no such
// region.
func redrawable(ctx context.Context, tx pgx.Tx, region, what string, missing error) (int64, error) {
	var id int64
	var level string
	err := tx.QueryRow(ctx, `SELECT id, level FROM regions WHERE code = @code`, pgx.NamedArgs{"code": region}).Scan(&id, &level)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, missing
	}
	if err != nil {
		return 0, err
	}
	if level != string(grids.Community) && level != string(grids.Subdistrict) {
		return 0, grids.Invalid("region", "%s is a %s: %s redraws a community or a subdistrict", region, level, what)
	}
	return id, nil
}

// List lists the drafts, newest change first.
func (s *Store) List(ctx context.Context) ([]Draft, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+draftColumns+` FROM drafts d JOIN regions r ON r.id = d.region_id ORDER BY d.updated_at DESC, d.id DESC`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Draft, error) { return scanDraft(r) })
}

// Get returns one draft.
func (s *Store) Get(ctx context.Context, id int64) (Draft, error) {
	return s.get(ctx, s.pool, id)
}

func (s *Store) get(ctx context.Context, q grids.Querier, id int64) (Draft, error) {
	d, err := scanDraft(q.QueryRow(ctx, `SELECT `+draftColumns+` FROM drafts d JOIN regions r ON r.id = d.region_id WHERE d.id = @id`, pgx.NamedArgs{"id": id}))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, &grids.NotFoundError{What: "draft", Key: strconv.FormatInt(id, 10)}
	}
	return d, err
}

// Rename changes a draft's name.
func (s *Store) Rename(ctx context.Context, id int64, etag, name string) (Draft, error) {
	if strings.TrimSpace(name) == "" {
		return Draft{}, grids.Invalid("name", "required: a name that says what the draft redraws")
	}
	var d Draft
	err := s.core.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := s.lock(ctx, tx, id, etag); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE drafts SET name = @name, revision = revision + 1, updated_at = now() WHERE id = @id`,
			pgx.NamedArgs{"id": id, "name": strings.TrimSpace(name)}); err != nil {
			return err
		}
		var err error
		d, err = s.get(ctx, tx, id)
		return err
	})
	return d, err
}

// Discard deletes a draft and its steps; the live grids are untouched.
func (s *Store) Discard(ctx context.Context, id int64, etag string) error {
	return s.core.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := s.lock(ctx, tx, id, etag); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM drafts WHERE id = @id`, pgx.NamedArgs{"id": id})
		return err
	})
}

// draftRow is a locked draft as a change sees it.
type draftRow struct {
	id, regionID int64
	region       string
	level        string
	revision     int
	baseChanged  *time.Time // the newest change of the region's live grids when the draft was made
	rollbackTo   *time.Time
}

// lock takes the draft's row lock and checks the caller's ETag against
// its revision, so that changes of one draft apply one after the other and
// none is made against a version its author did not see. A published
// draft is refused whatever the ETag: it is the record of a publish.
func (s *Store) lock(ctx context.Context, tx pgx.Tx, id int64, etag string) (draftRow, error) {
	var d draftRow
	var published *time.Time
	err := tx.QueryRow(ctx, `SELECT d.id, d.region_id, r.code, r.level, d.revision, d.base_changed, d.rollback_to, d.published_at
		FROM drafts d JOIN regions r ON r.id = d.region_id
		WHERE d.id = @id FOR UPDATE OF d`, pgx.NamedArgs{"id": id}).Scan(&d.id, &d.regionID, &d.region, &d.level, &d.revision,
		&d.baseChanged, &d.rollbackTo, &published)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, &grids.NotFoundError{What: "draft", Key: strconv.FormatInt(id, 10)}
	}
	if err != nil {
		return d, err
	}
	if published != nil {
		return d, &grids.ConflictError{Field: "draft", Message: fmt.Sprintf(
			"draft %d was published at %s and is kept as the record of it; make a new draft to change the grids again", id, published.UTC().Format(time.RFC3339))}
	}
	if cur := ETag(d.id, d.revision); etag != cur && etag != "*" {
		return d, &StaleError{Given: etag, Current: cur}
	}
	return d, nil
}

// Step is one change of a draft.
type Step struct {
	Step     int             `json:"step"`
	Kind     string          `json:"kind"`
	Detail   json.RawMessage `json:"detail"`
	Added    []string        `json:"added"`
	Removed  []string        `json:"removed"` // codes as they were before the step (removed or changed)
	MadeBy   string          `json:"made_by"`
	MadeAt   time.Time       `json:"made_at"`
	UndoneAt *time.Time      `json:"undone_at,omitempty"`
	UndoneBy *string         `json:"undone_by,omitempty"`
}

// Steps lists a draft's changes, oldest first.
func (s *Store) Steps(ctx context.Context, id int64) ([]Step, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT s.step, s.kind, s.detail, s.added,
		       ARRAY(SELECT b.code FROM draft_step_grids b WHERE b.draft_id = s.draft_id AND b.step = s.step ORDER BY b.code),
		       s.made_by, s.made_at, s.undone_at, s.undone_by
		FROM draft_steps s WHERE s.draft_id = @id ORDER BY s.step`, pgx.NamedArgs{"id": id})
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Step, error) {
		var st Step
		return st, r.Scan(&st.Step, &st.Kind, &st.Detail, &st.Added, &st.Removed, &st.MadeBy, &st.MadeAt, &st.UndoneAt, &st.UndoneBy)
	})
}
