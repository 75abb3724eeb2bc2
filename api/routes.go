package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids"
)

// register wires every route. Each one must also be described in
// openapi.yaml; TestOpenAPICoversEveryRoute fails otherwise.
func (s *Server) register() {
	e := s.echo
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metrics.handler())

	v1 := e.Group("/api/v1", s.authenticate)
	planners := allow(grids.RolePlanner)
	admins := allow() // admin only

	v1.GET("/openapi.json", s.openapi)
	v1.GET("/me", s.me)

	v1.GET("/locate", s.locate)
	v1.POST("/locate", s.locateBatch)

	v1.GET("/units", s.listUnits)
	v1.POST("/units", s.createUnit, planners)
	v1.GET("/units/:code", s.getUnit)
	v1.PATCH("/units/:code", s.updateUnit, planners)
	v1.DELETE("/units/:code", s.deleteUnit, planners)

	v1.GET("/regions", s.listRegions)
	v1.POST("/regions", s.createRegion, planners)
	v1.GET("/regions/:code", s.getRegion)
	v1.PATCH("/regions/:code", s.updateRegion, planners)
	v1.DELETE("/regions/:code", s.deleteRegion, planners)

	v1.POST("/import/:kind", s.importFile, planners)

	v1.GET("/assignments", s.listAssignments)
	v1.POST("/assignments", s.createAssignment, planners)
	v1.POST("/assignments/bulk", s.bulkAssign, planners)
	v1.GET("/assignments/:id", s.getAssignment)
	v1.PATCH("/assignments/:id", s.changeAssignment, planners)
	v1.DELETE("/assignments/:id", s.endAssignment, planners)

	v1.GET("/objects", s.listObjects)
	v1.POST("/objects", s.createObject, planners)
	v1.GET("/objects/:id", s.getObject)
	v1.PATCH("/objects/:id", s.updateObject, planners)
	v1.DELETE("/objects/:id", s.deleteObject, planners)
	v1.GET("/grids", s.listGrids)
	v1.GET("/grids/check", s.checkGrids)
	v1.GET("/grids/:code", s.getGrid)
	v1.GET("/grids/:code/objects", s.gridObjects)

	v1.GET("/rules", s.listRules)
	v1.POST("/rules", s.createRule, planners)
	v1.GET("/rules/:id", s.getRule)
	v1.PATCH("/rules/:id", s.updateRule, planners)
	v1.GET("/rules/:id/matches", s.ruleMatches)
	v1.GET("/rules/:id/matches.geojson", s.ruleMatches)

	v1.POST("/patrols", s.createPatrol, allow(grids.RolePlanner, grids.RoleDispatcher, grids.RoleUnit))
	v1.GET("/coverage/patrols", s.patrolCoverage)

	v1.GET("/coverage", s.coverage)
	v1.GET("/coverage/gaps.geojson", s.coverageGaps)

	v1.GET("/export/:file", s.export)

	v1.GET("/themes", s.listThemes)
	v1.GET("/categories", s.listCategories)
	v1.GET("/layers", s.listLayers)

	v1.GET("/tokens", s.listTokens, admins)
	v1.POST("/tokens", s.createToken, admins)
	v1.DELETE("/tokens/:id", s.revokeToken, admins)

	// Vector tiles for the map, outside /api/v1 because map clients expect
	// tile URLs at a tile root; the same tokens, any role (MapLibre sends the
	// header through transformRequest). Echo names a parameter up to the
	// next slash, hence "y.mvt" and "layer.json"; tiles.go strips them.
	tiles := e.Group("/tiles", s.authenticate)
	tiles.GET("/:layer.json", s.tileJSON)
	tiles.GET("/:layer/:z/:x/:y.mvt", s.tile)

	// OGC API – Features for QGIS and GDAL, with the same tokens.
	ogc := e.Group("/ogc", s.authenticate)
	ogc.GET("", s.ogcLanding)
	ogc.GET("/", s.ogcLanding)
	ogc.GET("/conformance", s.ogcConformanceDoc)
	ogc.GET("/collections", s.ogcCollections)
	ogc.GET("/collections/:collection", s.ogcCollection)
	ogc.GET("/collections/:collection/schema", s.ogcSchema)
	ogc.GET("/collections/:collection/schema.xsd", s.ogcXSD)
	ogc.GET("/collections/:collection/items", s.ogcItems)
	ogc.GET("/collections/:collection/items/:id", s.ogcItem)

	if s.cfg.Web != nil {
		e.GET("/*", echo.WrapHandler(s.cfg.Web))
	} else {
		e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/healthz") })
	}
}

// Routes lists the registered method and path pairs (Echo's syntax).
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }
