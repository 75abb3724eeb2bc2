package api

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/citygrid/citygrid/grids/features"
	"github.com/labstack/echo/v4"
)

// GDAL's OAPIF driver (3.6, Debian 12) types a layer from the first page of
// features unless a collection links a schema, and the only link it honours
// is rel "describedBy" spelled exactly so (it compares case-sensitively, so
// the "describedby" of the JSON Schema link goes unseen). Of the two kinds
// it reads, a GML application schema also gives the geometry type, where
// the JSON Schema gives only the fields; and an XML link wins over a JSON
// one. GDAL reads the schema with its small XSD parser, which wants:
//   - exactly one global element in the substitution group of
//     gml:AbstractFeature, its type named after it plus "Type";
//   - that type a complexContent extension whose sequence holds one
//     gml:*PropertyType element for the geometry and xs: simple types for
//     the rest;
// and which never follows xs:import, so gml.xsd is named but never fetched:
// the schema works offline.

// xsdContentType is what GDAL's link check accepts ("application/xml" or
// "text/xml", compared exactly); it does not look at the response's type.
const xsdContentType = "application/xml"

// gmlNS is GML 3.2, which names the feature substitution group
// AbstractFeature; GDAL strips prefixes and takes it as it takes _Feature.
const gmlNS = "http://www.opengis.net/gml/3.2"

// xsdLink is the collection's link to its GML application schema. It
// belongs in the collection's links both in /collections (which is all
// GDAL reads for OAPIF:<landing page>) and in /collections/{id} (which it
// reads for OAPIF:<collection URL>).
func xsdLink(base string, col *features.Collection) ogcLink {
	return ogcLink{
		Href:  base + "/collections/" + url.PathEscape(col.ID) + "/schema.xsd",
		Rel:   "describedBy",
		Type:  xsdContentType,
		Title: "the features' GML application schema (XSD)",
	}
}

// xsdGeometry maps a collection's geometry type to GML's property type.
// "Geometry" (mixed) reads as wkbUnknown; GDAL 3.6 then takes the first
// page's type anyway, so a mixed collection is typed right only where the
// client copies with -nlt GEOMETRY.
var xsdGeometry = map[string]string{
	"Point":           "gml:PointPropertyType",
	"LineString":      "gml:LineStringPropertyType",
	"Polygon":         "gml:PolygonPropertyType",
	"MultiPoint":      "gml:MultiPointPropertyType",
	"MultiLineString": "gml:MultiLineStringPropertyType",
	"MultiPolygon":    "gml:MultiPolygonPropertyType",
}

// xsdType maps property types to XSD types GDAL understands. Integers are
// xs:long because GDAL reads xs:integer as 32-bit and ids may grow past it.
var xsdType = map[features.PropType]string{
	features.PropString:   "xs:string",
	features.PropInteger:  "xs:long",
	features.PropNumber:   "xs:double",
	features.PropDateTime: "xs:dateTime",
	features.PropBoolean:  "xs:boolean",
}

type xsdElement struct {
	Name      string  `xml:"name,attr"`
	Type      string  `xml:"type,attr"`
	MinOccurs string  `xml:"minOccurs,attr,omitempty"`
	Doc       *xsdDoc `xml:"xs:annotation"`
}

type xsdDoc struct {
	Text string `xml:"xs:documentation"`
}

type xsdSchema struct {
	XMLName   xml.Name `xml:"xs:schema"`
	XS        string   `xml:"xmlns:xs,attr"`
	GML       string   `xml:"xmlns:gml,attr"`
	TNS       string   `xml:"xmlns:cg,attr"`
	Target    string   `xml:"targetNamespace,attr"`
	Qualified string   `xml:"elementFormDefault,attr"`
	Version   string   `xml:"version,attr"`
	Import    struct {
		Namespace string `xml:"namespace,attr"`
		Location  string `xml:"schemaLocation,attr"`
	} `xml:"xs:import"`
	Element struct {
		Name  string `xml:"name,attr"`
		Type  string `xml:"type,attr"`
		Group string `xml:"substitutionGroup,attr"`
	} `xml:"xs:element"`
	ComplexType struct {
		Name      string `xml:"name,attr"`
		Extension struct {
			Base     string       `xml:"base,attr"`
			Elements []xsdElement `xml:"xs:sequence>xs:element"`
		} `xml:"xs:complexContent>xs:extension"`
	} `xml:"xs:complexType"`
}

// xsdName makes a collection id an XML name: layer codes are the
// operators' to choose.
func xsdName(id string) string {
	var b strings.Builder
	for i, r := range id {
		if i == 0 && !unicode.IsLetter(r) && r != '_' {
			b.WriteByte('_')
		}
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-' && r != '.' {
			r = '_'
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// ogcXSD describes a collection's features as a GML 3.2 application schema,
// for clients that type layers from XML schemas (GDAL's OAPIF driver).
func (s *gisAPI) ogcXSD(c echo.Context) error {
	col, err := s.ogcCollectionFor(c)
	if err != nil {
		return err
	}
	ns := ogcBase(c) + "/collections/" + url.PathEscape(col.ID)
	var x xsdSchema
	x.XS, x.GML, x.TNS, x.Target = "http://www.w3.org/2001/XMLSchema", gmlNS, ns, ns
	x.Qualified, x.Version = "qualified", "1.0"
	x.Import.Namespace, x.Import.Location = gmlNS, "http://schemas.opengis.net/gml/3.2.1/gml.xsd"
	name := xsdName(col.ID)
	x.Element.Name, x.Element.Type, x.Element.Group = name, "cg:"+name+"Type", "gml:AbstractFeature"
	x.ComplexType.Name = name + "Type"
	geom, ok := xsdGeometry[col.GeometryType]
	if !ok {
		geom = "gml:GeometryPropertyType"
	}
	seq := []xsdElement{{Name: "geometry", Type: geom, MinOccurs: "0"}}
	for _, p := range col.Properties {
		// GDAL keeps the sample page's "id" field ahead of the schema's
		// fields; declaring it too would make two fields named id.
		if p.Name == "id" {
			continue
		}
		t, ok := xsdType[p.Type]
		if !ok {
			t = "xs:string"
		}
		seq = append(seq, xsdElement{Name: p.Name, Type: t, MinOccurs: "0", Doc: &xsdDoc{p.Title}})
	}
	x.ComplexType.Extension.Base = "gml:AbstractFeatureType"
	x.ComplexType.Extension.Elements = seq
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(x); err != nil {
		return err
	}
	b.WriteByte('\n')
	return c.Blob(http.StatusOK, xsdContentType+"; charset=utf-8", b.Bytes())
}
