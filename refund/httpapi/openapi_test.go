package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/refundbot/refundbot/refund"
)

// openAPIDoc is the part of openapi.yaml the tests read.
type openAPIDoc struct {
	OpenAPI  string                          `yaml:"openapi"`
	Paths    map[string]map[string]openAPIOp `yaml:"paths"`
	Webhooks map[string]map[string]openAPIOp `yaml:"webhooks"`
	Security []map[string][]string           `yaml:"security"`
	Comps    struct {
		Responses map[string]openAPIResponse `yaml:"responses"`
		Schemas   map[string]yaml.Node       `yaml:"schemas"`
		Params    map[string]openAPIParam    `yaml:"parameters"`
	} `yaml:"components"`
}

type openAPIOp struct {
	Parameters  []openAPIParam             `yaml:"parameters"`
	RequestBody map[string]any             `yaml:"requestBody"`
	Responses   map[string]openAPIResponse `yaml:"responses"`
	// Security is a pointer so that an explicit [] (no token) differs
	// from an absent one (the document's default, the token).
	Security *[]map[string][]string `yaml:"security"`
}

type openAPIParam struct {
	Ref  string `yaml:"$ref"`
	Name string `yaml:"name"`
	In   string `yaml:"in"`
}

type openAPIResponse struct {
	Ref     string `yaml:"$ref"`
	Content map[string]struct {
		Schema struct {
			Ref string `yaml:"$ref"`
		} `yaml:"schema"`
	} `yaml:"content"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	data, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPIDoc
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q, want a 3.x document", doc.OpenAPI)
	}
	return doc
}

// fullHandler is NewHandler with everything configured, so that every
// route of the table is registered.
func fullHandler() *server {
	return NewHandler(Config{Orders: stubOrders{}, Payouts: stubSettler{}, Cases: stubCases{}, Token: "t0ken",
		Ready: func(context.Context) error { return nil }}).(*server)
}

// TestOpenAPIDocumentsEveryRoute holds openapi.yaml and the routes table
// to each other, and the table to what NewHandler registers.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	s := fullHandler()
	table := routes()

	for _, rt := range table {
		t.Run(rt.pattern(), func(t *testing.T) {
			// Registered by NewHandler under exactly this pattern.
			r := httptest.NewRequest(rt.method, strings.NewReplacer("{id}", "X1").Replace(rt.path), nil)
			if _, pattern := s.mux.Handler(r); pattern != rt.pattern() {
				t.Errorf("NewHandler routes %s %s to %q, want %q", r.Method, r.URL.Path, pattern, rt.pattern())
			}
			op, ok := doc.Paths[rt.path][strings.ToLower(rt.method)]
			if !ok {
				t.Fatalf("openapi.yaml does not document %s", rt.pattern())
			}
			wantResponses := []string{"200"}
			if rt.shopAPI {
				wantResponses = append(wantResponses, "401")
				if op.Security != nil {
					t.Errorf("a shop API route overrides the document's token security with %v", *op.Security)
				}
			} else if op.Security == nil || len(*op.Security) != 0 {
				t.Errorf("a route without a token must say security: []")
			}
			if rt.takesBody {
				wantResponses = append(wantResponses, "413", "415")
				if op.RequestBody == nil {
					t.Errorf("route takes a body but documents no requestBody")
				}
			} else if op.RequestBody != nil {
				t.Errorf("route takes no body but documents a requestBody")
			}
			for _, code := range wantResponses {
				if _, ok := op.Responses[code]; !ok {
					t.Errorf("response %s is not documented", code)
				}
			}
			// Every {name} in the path is declared as a path parameter.
			for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(rt.path, -1) {
				if !slices.ContainsFunc(op.Parameters, func(p openAPIParam) bool {
					p = resolveParam(t, doc, p)
					return p.Name == m[1] && p.In == "path"
				}) {
					t.Errorf("path parameter %s is not declared", m[1])
				}
			}
		})
	}

	for path, ops := range doc.Paths {
		for method := range ops {
			if !slices.ContainsFunc(table, func(rt route) bool {
				return rt.path == path && strings.ToLower(rt.method) == method
			}) {
				t.Errorf("openapi.yaml documents %s %s, which the routes table lacks", strings.ToUpper(method), path)
			}
		}
	}
	if len(doc.Security) != 1 || doc.Security[0]["shopToken"] == nil {
		t.Errorf("document security = %v, want the shopToken bearer scheme", doc.Security)
	}
}

func resolveParam(t *testing.T, doc openAPIDoc, p openAPIParam) openAPIParam {
	t.Helper()
	if name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
		resolved, found := doc.Comps.Params[name]
		if !found {
			t.Errorf("parameter %s is not defined", p.Ref)
		}
		return resolved
	}
	return p
}

// TestOpenAPIErrorsUseTheErrorSchema checks that every documented error
// answer, direct or through components/responses, is the shared Error
// object, as every error the handler writes is.
func TestOpenAPIErrorsUseTheErrorSchema(t *testing.T) {
	doc := loadOpenAPI(t)
	if _, ok := doc.Comps.Schemas["Error"]; !ok {
		t.Fatal("components/schemas/Error is missing")
	}
	errorsSeen := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			for code, resp := range op.Responses {
				if code != "default" && code < "400" {
					continue
				}
				errorsSeen++
				where := strings.ToUpper(method) + " " + path + " " + code
				if name, ok := strings.CutPrefix(resp.Ref, "#/components/responses/"); ok {
					var found bool
					if resp, found = doc.Comps.Responses[name]; !found {
						t.Errorf("%s: %s is not defined", where, resp.Ref)
						continue
					}
				}
				media, ok := resp.Content["application/json"]
				if !ok || media.Schema.Ref != "#/components/schemas/Error" {
					t.Errorf("%s: error response is not application/json with the Error schema", where)
				}
			}
		}
	}
	if errorsSeen < 20 {
		t.Errorf("only %d error responses documented; the check would prove little", errorsSeen)
	}
}

// TestOpenAPIDescribesThePayoutWebhook checks the outbound webhook's entry
// against the headers and body refundbot sends.
func TestOpenAPIDescribesThePayoutWebhook(t *testing.T) {
	doc := loadOpenAPI(t)
	op, ok := doc.Webhooks["payout"]["post"]
	if !ok {
		t.Fatal("webhooks/payout/post is missing")
	}
	for _, h := range []string{"Idempotency-Key", "X-Refundbot-Timestamp", "X-Refundbot-Signature"} {
		if !slices.ContainsFunc(op.Parameters, func(p openAPIParam) bool { return p.Name == h && p.In == "header" }) {
			t.Errorf("webhook header %s is not documented", h)
		}
	}
	var schema struct {
		Properties map[string]any `yaml:"properties"`
	}
	node := doc.Comps.Schemas["PayoutRequest"]
	if err := node.Decode(&schema); err != nil {
		t.Fatal(err)
	}
	// The members of refund.PayoutRequest, the body the outbox sends.
	for _, member := range []string{"payout_id", "case", "order_id", "amount", "currency", "method", "account", "created_at"} {
		if _, ok := schema.Properties[member]; !ok {
			t.Errorf("PayoutRequest schema lacks %s", member)
		}
	}
	if len(schema.Properties) != 8 {
		t.Errorf("PayoutRequest schema has %d members, want the 8 of refund.PayoutRequest", len(schema.Properties))
	}
}

// TestOpenAPIStatusEnum keeps the documented statuses those of refund.
func TestOpenAPIStatusEnum(t *testing.T) {
	doc := loadOpenAPI(t)
	var schema struct {
		Enum []string `yaml:"enum"`
	}
	node := doc.Comps.Schemas["Status"]
	if err := node.Decode(&schema); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, st := range refund.Statuses() {
		want = append(want, string(st))
	}
	if !slices.Equal(schema.Enum, want) {
		t.Errorf("Status enum %v, want %v", schema.Enum, want)
	}
}

// stubOrders, stubSettler and stubCases let every route be registered;
// the tests using them never get as far as a store call, or accept its
// answer whatever it is.
type stubOrders struct{}

func (stubOrders) UpsertOrder(context.Context, refund.Order) (bool, error) { return true, nil }
func (stubOrders) Order(context.Context, string) (refund.Order, error) {
	return refund.Order{}, refund.Errorf(refund.ENOTFOUND, "no orders here")
}

type stubSettler struct{}

func (stubSettler) SettlePayout(context.Context, refund.Settlement) (refund.Payout, error) {
	return refund.Payout{}, refund.Errorf(refund.ENOTFOUND, "no payouts here")
}

type stubCases struct{}

func (stubCases) Case(context.Context, int64) (refund.Case, error) {
	return refund.Case{}, refund.Errorf(refund.ENOTFOUND, "no cases here")
}
func (stubCases) Events(context.Context, int64) ([]refund.Event, error) {
	return nil, refund.Errorf(refund.ENOTFOUND, "no cases here")
}
func (stubCases) ListCases(context.Context, refund.CaseQuery) ([]refund.Case, error) { return nil, nil }

// The handler's store assumptions in one place: nothing here may drift
// from the real interfaces.
var (
	_ refund.OrderStore = stubOrders{}
	_ PayoutSettler     = stubSettler{}
	_ CaseReader        = stubCases{}
	_ http.Handler      = (*server)(nil)
)
