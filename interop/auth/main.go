// auth exercises Go Micro v5's JWT tokens and its wrapper/auth handler against ts-micro. Keys come
// from MICRO_AUTH_PUBLIC_KEY / MICRO_AUTH_PRIVATE_KEY (base64 PEM, as Go Micro reads them).
// INTEROP_MODE picks what it does; every outcome is one JSON line on stdout:
//
//	mint     a token for INTEROP_ACCOUNT (scopes INTEROP_SCOPES, comma-separated) minted by Go
//	         Micro's jwt token provider                          → {"token":…}
//	inspect  INTEROP_TOKEN checked by the same provider          → {"account":{…}} or {"error":…}
//	serve    service "gohello" (Helloworld.Call) behind wrapper/auth's AuthHandler, with rules
//	         granting scope "hello" on Helloworld.Call          → {"started":addr}, then serves
//	call     INTEROP_SERVICE's INTEROP_ENDPOINT {name: INTEROP_NAME_ARG} with
//	         "Authorization: Bearer INTEROP_TOKEN"               → {"msg":…} or {"error":{…}}
package main

import (
	"context"
	"strings"
	"time"

	"go-micro.dev/v5"
	"go-micro.dev/v5/auth"
	"go-micro.dev/v5/auth/jwt/token"
	"go-micro.dev/v5/client"
	"go-micro.dev/v5/errors"
	"go-micro.dev/v5/metadata"
	authwrapper "go-micro.dev/v5/wrapper/auth"

	"ts-micro.dev/interop/internal/shared"
)

func provider() token.Provider {
	return token.New(
		token.WithPublicKey(shared.Env("MICRO_AUTH_PUBLIC_KEY", "")),
		token.WithPrivateKey(shared.Env("MICRO_AUTH_PRIVATE_KEY", "")),
	)
}

func main() {
	switch shared.Env("INTEROP_MODE", "mint") {
	case "mint":
		mint()
	case "inspect":
		inspect()
	case "serve":
		serve()
	case "call":
		call()
	}
}

func mint() {
	var scopes []string
	if s := shared.Env("INTEROP_SCOPES", ""); s != "" {
		scopes = strings.Split(s, ",")
	}
	acc := &auth.Account{ID: shared.Env("INTEROP_ACCOUNT", "go-user"), Type: "user", Issuer: "go.micro", Scopes: scopes}
	tok, err := provider().Generate(acc, token.WithExpiry(time.Minute))
	if err != nil {
		shared.Emit(map[string]string{"error": err.Error()})
		return
	}
	shared.Emit(map[string]string{"token": tok.Token})
}

func inspect() {
	acc, err := provider().Inspect(shared.Env("INTEROP_TOKEN", ""))
	if err != nil {
		shared.Emit(map[string]string{"error": err.Error()})
		return
	}
	shared.Emit(map[string]interface{}{"account": acc})
}

// jwtAuth is Go Micro's auth/jwt reduced to what the handler uses: Inspect through the token
// provider (auth/jwt itself imports the provider from an external module).
type jwtAuth struct {
	auth.Auth
	tokens token.Provider
}

func (a *jwtAuth) Inspect(t string) (*auth.Account, error) { return a.tokens.Inspect(t) }

// memoryRules verifies with Go Micro's own algorithm (auth.Verify), as auth/jwt's rules do.
type memoryRules struct{ rules []*auth.Rule }

func (r *memoryRules) Verify(acc *auth.Account, res *auth.Resource, opts ...auth.VerifyOption) error {
	return auth.Verify(r.rules, acc, res)
}
func (r *memoryRules) Grant(rule *auth.Rule) error                        { r.rules = append(r.rules, rule); return nil }
func (r *memoryRules) Revoke(rule *auth.Rule) error                       { return nil }
func (r *memoryRules) List(opts ...auth.ListOption) ([]*auth.Rule, error) { return r.rules, nil }

type Helloworld struct{}

func (h *Helloworld) Call(ctx context.Context, req *shared.Request, rsp *shared.Response) error {
	acc, _ := auth.AccountFromContext(ctx)
	if acc == nil {
		return errors.InternalServerError("gohello", "no account on the context")
	}
	rsp.Msg = "Hello " + req.Name + " from " + acc.ID
	return nil
}

func serve() {
	rules := &memoryRules{}
	rules.Grant(&auth.Rule{ID: "hello", Scope: "hello", Access: auth.AccessGranted, Resource: &auth.Resource{Type: "service", Name: "gohello", Endpoint: "Helloworld.Call"}})
	handler := authwrapper.AuthHandler(authwrapper.HandlerOptions{Auth: &jwtAuth{tokens: provider()}, Rules: rules})
	shared.Serve(shared.InitAnnounced("gohello", micro.WrapHandler(handler)), new(Helloworld))
}

func call() {
	c := shared.Init("interop.auth.client").Client()
	ctx := metadata.NewContext(context.Background(), metadata.Metadata{"Authorization": "Bearer " + shared.Env("INTEROP_TOKEN", "")})
	req := c.NewRequest(shared.Env("INTEROP_SERVICE", "greeter"), shared.Env("INTEROP_ENDPOINT", "Greeter.Hello"), &shared.Request{Name: shared.Env("INTEROP_NAME_ARG", "")})
	var rsp shared.Response
	if err := c.Call(ctx, req, &rsp, client.WithAddress(shared.Env("INTEROP_ADDRESS", ""))); err != nil {
		shared.Emit(map[string]interface{}{"error": errors.Parse(err.Error())})
		return
	}
	shared.Emit(rsp)
}
