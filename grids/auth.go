package grids

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Role is what a user may do.
type Role string

const (
	RoleAdmin      Role = "admin"      // everything, including tokens
	RolePlanner    Role = "planner"    // regions, grids, units, objects, assignments
	RoleDispatcher Role = "dispatcher" // cases
	RoleAnalyst    Role = "analyst"    // read and export
	RoleUnit       Role = "unit"       // a responsible unit: its own cases
	RoleInspector  Role = "inspector"  // a grid inspector: reports, patrols, verifies
)

// Roles lists every role.
func Roles() []Role {
	return []Role{RoleAdmin, RolePlanner, RoleDispatcher, RoleAnalyst, RoleUnit, RoleInspector}
}

// ParseRole reads a role name.
func ParseRole(s string) (Role, bool) {
	for _, r := range Roles() {
		if string(r) == s {
			return r, true
		}
	}
	return "", false
}

// Principal is who a request acts for.
type Principal struct {
	UserID  int64  `json:"user_id"`
	User    string `json:"user"`
	Role    Role   `json:"role"`
	Unit    string `json:"unit,omitempty"`
	TokenID int64  `json:"token_id"`
}

// Token describes an API token; the secret itself is never stored.
type Token struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	User       string     `json:"user"`
	Role       Role       `json:"role"`
	Unit       string     `json:"unit,omitempty"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// TokenInput asks for a new token for a user (created when new).
type TokenInput struct {
	User      string // user name; the token name when empty
	Name      string
	Role      string
	Unit      string // required for the unit role
	ExpiresAt *time.Time
}

// tokenPrefix marks citygrid tokens so secret scanners can find them.
// TokenStore keeps API tokens: only their SHA-256 is stored, the secret is
// shown once at creation.
type TokenStore struct {
	pool *pgxpool.Pool
}

// NewTokenStore returns the token store over pool.
func NewTokenStore(pool *pgxpool.Pool) *TokenStore { return &TokenStore{pool: pool} }

const tokenPrefix = "cg_"

// HashToken is the stored form of a token secret.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func newSecret() (string, error) {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return tokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// Create makes a token and returns it with its secret, which is shown
// only this once.
func (s *TokenStore) Create(ctx context.Context, in TokenInput) (Token, string, error) {
	var p Problems
	role, ok := ParseRole(in.Role)
	if !ok {
		p.Add("role", "%q is not a role (one of %s)", in.Role, roleNames())
	}
	if role == RoleUnit && in.Unit == "" {
		p.Add("unit", "required for the unit role: the code of the unit the token acts for")
	}
	if role != RoleUnit && in.Unit != "" {
		p.Add("unit", "only a unit-role token is bound to a unit")
	}
	if in.Name == "" {
		in.Name = fmt.Sprintf("%s-%s", in.Role, time.Now().UTC().Format("20060102T150405"))
	}
	if in.User == "" {
		in.User = in.Name
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(time.Now()) {
		p.Add("expires_at", "must be in the future")
	}
	if err := p.Err(); err != nil {
		return Token{}, "", err
	}
	secret, err := newSecret()
	if err != nil {
		return Token{}, "", err
	}
	var tok Token
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var unitID *int64
		if in.Unit != "" {
			if unitID, err = lookupID(ctx, tx, `SELECT id FROM units WHERE code = @code`, in.Unit); err != nil {
				return err
			}
			if unitID == nil {
				return Invalid("unit", "unit %q does not exist", in.Unit)
			}
		}
		var userID int64
		var userRole Role
		var userUnit *int64
		err := tx.QueryRow(ctx, `
			INSERT INTO users (name, role, unit_id) VALUES (@name, @role, @unit_id)
			ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
			RETURNING id, role, unit_id`,
			pgx.NamedArgs{"name": in.User, "role": string(role), "unit_id": unitID}).Scan(&userID, &userRole, &userUnit)
		if err != nil {
			return err
		}
		if userRole != role || (unitID == nil) != (userUnit == nil) || (unitID != nil && *unitID != *userUnit) {
			return &ConflictError{Field: "user", Message: fmt.Sprintf("user %q exists with role %s; pick another user name", in.User, userRole)}
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO api_tokens (user_id, name, token_hash, prefix, expires_at)
			VALUES (@user_id, @name, @hash, @prefix, @expires_at)
			RETURNING id, created_at`,
			pgx.NamedArgs{"user_id": userID, "name": in.Name, "hash": HashToken(secret),
				"prefix": secret[:len(tokenPrefix)+6], "expires_at": in.ExpiresAt}).Scan(&tok.ID, &tok.CreatedAt)
		if err != nil {
			return err
		}
		tok.Name, tok.User, tok.Role, tok.Unit = in.Name, in.User, role, in.Unit
		tok.Prefix, tok.ExpiresAt = secret[:len(tokenPrefix)+6], in.ExpiresAt
		return nil
	})
	if err != nil {
		return Token{}, "", err
	}
	return tok, secret, nil
}

// Authenticate finds the principal of a token secret. It fails with
// ErrUnauthenticated for unknown, revoked or expired tokens and disabled
// users.
func (s *TokenStore) Authenticate(ctx context.Context, secret string) (Principal, error) {
	var p Principal
	var unit *string
	err := s.pool.QueryRow(ctx, `
		SELECT t.id, u.id, u.name, u.role, un.code
		FROM api_tokens t
		JOIN users u ON u.id = t.user_id
		LEFT JOIN units un ON un.id = u.unit_id
		WHERE t.token_hash = @hash
		  AND t.revoked_at IS NULL
		  AND (t.expires_at IS NULL OR t.expires_at > now())
		  AND u.disabled_at IS NULL`,
		pgx.NamedArgs{"hash": HashToken(secret)}).Scan(&p.TokenID, &p.UserID, &p.User, &p.Role, &unit)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrUnauthenticated
	}
	if err != nil {
		return p, err
	}
	if unit != nil {
		p.Unit = *unit
	}
	// Throttled so that a busy client does not turn every read into a write.
	_, err = s.pool.Exec(ctx, `
		UPDATE api_tokens SET last_used_at = now()
		WHERE id = @id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
		pgx.NamedArgs{"id": p.TokenID})
	return p, err
}

// List lists every token, newest first.
func (s *TokenStore) List(ctx context.Context) ([]Token, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT t.id, t.name, u.name, u.role, un.code, t.prefix, t.created_at, t.expires_at, t.revoked_at, t.last_used_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN units un ON un.id = u.unit_id
		ORDER BY t.id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		var t Token
		var unit *string
		if err := rows.Scan(&t.ID, &t.Name, &t.User, &t.Role, &unit, &t.Prefix, &t.CreatedAt, &t.ExpiresAt, &t.RevokedAt, &t.LastUsedAt); err != nil {
			return nil, err
		}
		if unit != nil {
			t.Unit = *unit
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Revoke ends a token at once; every server drops it from its cache on
// the change notification.
func (s *TokenStore) Revoke(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = @id AND revoked_at IS NULL`,
		pgx.NamedArgs{"id": id})
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_tokens WHERE id = @id)`, pgx.NamedArgs{"id": id}).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return &NotFoundError{What: "token", Key: fmt.Sprint(id)}
		}
	}
	return nil
}

func roleNames() string {
	names := make([]string, 0, len(Roles()))
	for _, r := range Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}
