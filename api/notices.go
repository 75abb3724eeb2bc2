package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/notices"
)

// noticesAPI serves units' webhooks, their delivery log and the live event
// stream of case changes.
type noticesAPI struct {
	store *notices.Store
	feed  *notices.Feed
	cfg   Config
}

type webhookBody struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Secret string   `json:"secret"`
}

// mayManage lets admins and the unit's own tokens manage its webhooks.
func mayManage(c echo.Context, unit string) error {
	if !notices.MayManage(principalOf(c), unit) {
		return grids.ErrForbidden
	}
	return nil
}

func (s *noticesAPI) createWebhook(c echo.Context) error {
	unit := c.Param("code")
	if err := mayManage(c, unit); err != nil {
		return err
	}
	var b webhookBody
	if err := decodeJSON(c, s.cfg.BodyLimit, &b); err != nil {
		return err
	}
	w, err := s.store.CreateWebhook(c.Request().Context(), unit, notices.WebhookInput{
		URL: b.URL, Events: b.Events, Secret: b.Secret, CreatedBy: principalOf(c).User})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/webhooks/"+strconv.FormatInt(w.ID, 10))
	return c.JSON(http.StatusCreated, w)
}

func (s *noticesAPI) listWebhooks(c echo.Context) error {
	unit := c.Param("code")
	if err := mayManage(c, unit); err != nil {
		return err
	}
	list, err := s.store.Webhooks(c.Request().Context(), unit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list})
}

func webhookID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, bad("id", "a webhook id is a positive whole number")
	}
	return id, nil
}

func (s *noticesAPI) deleteWebhook(c echo.Context) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteWebhook(c.Request().Context(), principalOf(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *noticesAPI) webhookDeliveries(c echo.Context) error {
	id, err := webhookID(c)
	if err != nil {
		return err
	}
	page, err := pageParams(c)
	if err != nil {
		return err
	}
	list, err := s.store.Deliveries(c.Request().Context(), id, page)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}
