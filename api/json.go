package api

import (
	"encoding/json"

	"github.com/labstack/echo/v4"
)

// jsonSerializer writes JSON without HTML escaping: API clients read it,
// not browsers' HTML parsers, and "<token>" should read as written.
type jsonSerializer struct{ echo.DefaultJSONSerializer }

func (jsonSerializer) Serialize(c echo.Context, i any, indent string) error {
	enc := json.NewEncoder(c.Response())
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	return enc.Encode(i)
}
