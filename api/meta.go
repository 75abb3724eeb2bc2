package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids"
)

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "version": s.cfg.Version})
}

// readyz answers 200 only when the database answers and its schema is the
// one this binary expects; load balancers take the server out otherwise.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	out := map[string]any{"status": "ready", "database": "ok"}
	status := http.StatusOK
	if err := s.store.Pool().Ping(ctx); err != nil {
		out["status"], out["database"] = "unavailable", "unreachable"
		return c.JSON(http.StatusServiceUnavailable, out)
	}
	cur, latest, err := s.migrator.Versions(ctx)
	switch {
	case err != nil:
		out["status"], out["migrations"] = "unavailable", "unknown"
		status = http.StatusServiceUnavailable
	case cur != latest:
		out["status"] = "unavailable"
		out["migrations"] = map[string]int64{"current": cur, "latest": latest}
		status = http.StatusServiceUnavailable
	default:
		out["migrations"] = map[string]int64{"current": cur, "latest": latest}
	}
	return c.JSON(status, out)
}

func (s *Server) me(c echo.Context) error {
	return c.JSON(http.StatusOK, c.Get(principalKey))
}

func (s *Server) listThemes(c echo.Context) error {
	t, err := s.store.Themes(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": t})
}

func (s *Server) listCategories(c echo.Context) error {
	t, err := s.store.Categories(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": t})
}

func (s *Server) listLayers(c echo.Context) error {
	t, err := s.store.Layers(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": t})
}

type tokenBody struct {
	Name      string     `json:"name"`
	User      string     `json:"user"`
	Role      string     `json:"role"`
	Unit      string     `json:"unit"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func (s *Server) listTokens(c echo.Context) error {
	t, err := s.tokenStore.List(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": t})
}

func (s *Server) createToken(c echo.Context) error {
	var b tokenBody
	if err := decodeJSON(c, s.cfg.BodyLimit, &b); err != nil {
		return err
	}
	tok, secret, err := s.tokenStore.Create(c.Request().Context(), grids.TokenInput{
		Name: b.Name, User: b.User, Role: b.Role, Unit: b.Unit, ExpiresAt: b.ExpiresAt})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, struct {
		grids.Token
		Secret string `json:"token"`
	}{tok, secret})
}

func (s *Server) revokeToken(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return bad("id", "must be a token id (a whole number)")
	}
	if err := s.tokenStore.Revoke(c.Request().Context(), id); err != nil {
		return err
	}
	s.tokens.clear()
	return c.NoContent(http.StatusNoContent)
}
