package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/cases"
)

// register wires every route. Each one must also be described in
// openapi.yaml; TestOpenAPICoversEveryRoute fails otherwise.
func (s *Server) register() {
	e := s.echo
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metrics.handler())
	// The map app reads it before anyone signs in.
	e.GET("/api/v1/config", s.appConfig.config)

	v1 := e.Group("/api/v1", s.authenticate)
	planners := allow(grids.RolePlanner)
	admins := allow() // admin only

	v1.GET("/openapi.json", s.openapi)
	v1.GET("/me", s.me)

	v1.GET("/search", s.search.find)
	v1.GET("/search/address", s.search.place)

	v1.GET("/locate", s.locate)
	v1.POST("/locate", s.locateBatch)

	v1.GET("/units", s.places.listUnits)
	v1.POST("/units", s.places.createUnit, planners)
	v1.GET("/units/:code", s.places.getUnit)
	v1.PATCH("/units/:code", s.places.updateUnit, planners)
	v1.DELETE("/units/:code", s.places.deleteUnit, planners)

	v1.GET("/regions", s.places.listRegions)
	v1.POST("/regions", s.places.createRegion, planners)
	v1.GET("/regions/:code", s.places.getRegion)
	v1.PATCH("/regions/:code", s.places.updateRegion, planners)
	v1.DELETE("/regions/:code", s.places.deleteRegion, planners)

	v1.POST("/import/:kind", s.importFile, planners)

	v1.GET("/assignments", s.places.listAssignments)
	v1.POST("/assignments", s.places.createAssignment, planners)
	v1.POST("/assignments/bulk", s.places.bulkAssign, planners)
	v1.GET("/assignments/:id", s.places.getAssignment)
	v1.PATCH("/assignments/:id", s.places.changeAssignment, planners)
	v1.DELETE("/assignments/:id", s.places.endAssignment, planners)

	v1.GET("/objects", s.places.listObjects)
	v1.POST("/objects", s.places.createObject, planners)
	v1.GET("/objects/:id", s.places.getObject)
	v1.PATCH("/objects/:id", s.places.updateObject, planners)
	v1.DELETE("/objects/:id", s.places.deleteObject, planners)
	v1.GET("/grids", s.history.asOf(s.places.listGrids)) // ?at=: the layout then
	v1.GET("/grids/check", s.places.checkGrids)
	v1.GET("/grids/load", s.history.gridLoad)
	v1.GET("/grids/:code/history", s.history.gridHistory)
	v1.GET("/layouts/diff.geojson", s.history.layoutDiff)
	v1.GET("/grids/:code", s.places.getGrid)
	v1.GET("/grids/:code/objects", s.places.gridObjects)

	// Planners' drafts of a region's grids (drafts.go): planners and admins only.
	v1.GET("/drafts", s.drafts.list, planners)
	v1.POST("/drafts", s.drafts.create, planners)
	v1.GET("/drafts/:id", s.drafts.get, planners)
	v1.PATCH("/drafts/:id", s.drafts.rename, planners)
	v1.DELETE("/drafts/:id", s.drafts.discard, planners)
	v1.GET("/drafts/:id/grids", s.drafts.grids, planners)
	v1.POST("/drafts/:id/grids", s.drafts.addGrid, planners)
	v1.PUT("/drafts/:id/grids/:code", s.drafts.updateGrid, planners)
	v1.DELETE("/drafts/:id/grids/:code", s.drafts.deleteGrid, planners)
	v1.POST("/drafts/:id/split", s.drafts.split, planners)
	v1.POST("/drafts/:id/merge", s.drafts.merge, planners)
	v1.POST("/drafts/:id/derive", s.drafts.derive, planners)
	v1.POST("/drafts/:id/undo", s.drafts.undo, planners)
	v1.GET("/drafts/:id/steps", s.drafts.steps, planners)
	v1.GET("/drafts/:id/check", s.drafts.check, planners)
	v1.GET("/drafts/:id/impact", s.drafts.impact, planners)
	v1.POST("/drafts/:id/publish", s.drafts.publish, planners)
	v1.POST("/regions/:code/rollback", s.drafts.rollback, planners)
	v1.GET("/drafts/:id/load", s.drafts.load, planners)

	v1.GET("/rules", s.cover.listRules)
	v1.POST("/rules", s.cover.createRule, planners)
	v1.GET("/rules/:id", s.cover.getRule)
	v1.PATCH("/rules/:id", s.cover.updateRule, planners)
	v1.GET("/rules/:id/matches", s.cover.ruleMatches)
	v1.GET("/rules/:id/matches.geojson", s.cover.ruleMatches)

	v1.POST("/patrols", s.cover.createPatrol, allow(grids.RolePlanner, grids.RoleDispatcher, grids.RoleUnit, grids.RoleInspector))
	v1.GET("/coverage/patrols", s.cover.patrolCoverage)

	v1.GET("/coverage", s.cover.coverage)
	v1.GET("/coverage/gaps.geojson", s.cover.coverageGaps)

	v1.GET("/export/:file", s.gis.export)

	reporters := allow(grids.RoleDispatcher, grids.RoleInspector, grids.RoleUnit)
	v1.POST("/cases", s.cases.createCase, reporters)
	v1.GET("/cases", s.cases.listCases)
	v1.GET("/cases.geojson", s.cases.casesGeoJSON)
	v1.GET("/cases/hotspots", s.stats.hotspots) // before /cases/:code, or it reads as a code
	v1.GET("/cases/:code", s.cases.getCase)
	v1.GET("/cases/:code/events", s.cases.caseEvents)
	v1.GET("/cases/:code/photos", s.cases.listPhotos)
	v1.POST("/cases/:code/photos", s.cases.addPhotos)
	v1.GET("/cases/:code/photos/:id", s.cases.getPhoto)
	v1.POST("/cases/:code/:action", s.cases.act)

	// Open311 GeoReport v2 for citizens' apps and city systems (open311.go).
	s.open311Routes(reporters)
	v1.GET("/stats/units", s.stats.stats(cases.ByUnit))
	v1.GET("/stats/grids", s.stats.stats(cases.ByGrid))
	v1.GET("/stats/regions", s.stats.stats(cases.ByRegion))
	v1.GET("/stats/categories", s.stats.stats(cases.ByCategory))
	v1.GET("/stats/ranking", s.stats.ranking)

	v1.GET("/themes", s.listThemes)
	v1.GET("/categories", s.listCategories)
	v1.GET("/layers", s.listLayers)

	v1.GET("/calendar/:year", s.calendar.getCalendar)
	v1.PUT("/calendar/:year", s.calendar.putCalendar, admins)
	// Webhooks: the unit-scoped checks are in the handlers.
	v1.GET("/units/:code/webhooks", s.notices.listWebhooks)
	v1.POST("/units/:code/webhooks", s.notices.createWebhook)
	v1.DELETE("/webhooks/:id", s.notices.deleteWebhook)
	v1.GET("/webhooks/:id/deliveries", s.notices.webhookDeliveries, admins)
	v1.GET("/events", s.notices.events)

	v1.GET("/tokens", s.listTokens, admins)
	v1.POST("/tokens", s.createToken, admins)
	v1.DELETE("/tokens/:id", s.revokeToken, admins)

	// Vector tiles for the map, outside /api/v1 because map clients expect
	// tile URLs at a tile root; the same tokens, any role (MapLibre sends the
	// header through transformRequest). Echo names a parameter up to the
	// next slash, hence "y.mvt" and "layer.json"; tiles.go strips them.
	tiles := e.Group("/tiles", s.authenticate)
	tiles.GET("/:layer.json", s.gis.tileJSON)
	tiles.GET("/:layer/:z/:x/:y.mvt", s.gis.tile)

	// OGC API – Features for QGIS and GDAL, with the same tokens.
	ogc := e.Group("/ogc", s.authenticate)
	ogc.GET("", s.gis.ogcLanding)
	ogc.GET("/", s.gis.ogcLanding)
	ogc.GET("/conformance", s.gis.ogcConformanceDoc)
	ogc.GET("/collections", s.gis.ogcCollections)
	ogc.GET("/collections/:collection", s.gis.ogcCollection)
	ogc.GET("/collections/:collection/schema", s.gis.ogcSchema)
	ogc.GET("/collections/:collection/schema.xsd", s.gis.ogcXSD)
	ogc.GET("/collections/:collection/items", s.gis.ogcItems)
	ogc.GET("/collections/:collection/items/:id", s.gis.ogcItem)

	if s.cfg.Web != nil {
		// A path of the API that names no route is the API's 404, in
		// JSON, not a page of the app (the groups above answer their own).
		for _, p := range []string{"/api", "/api/*", "/tiles/*", "/ogc/*"} {
			e.RouteNotFound(p, func(echo.Context) error { return echo.ErrNotFound })
		}
		app := echo.WrapHandler(s.cfg.Web)
		e.GET("/*", app)
		e.HEAD("/*", app)
	} else {
		e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/healthz") })
	}
}

// Routes lists the registered method and path pairs (Echo's syntax).
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }
