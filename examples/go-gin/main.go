// A Gin web app that signs users in through Portico with the Logto Go SDK, unchanged:
// Portico speaks Logto's protocol, so LogtoConfig.Endpoint is simply Portico's endpoint.
// See README.md (English) or README.es.md (español).
package main

import (
	"html"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/memstore"
	"github.com/gin-gonic/gin"
	"github.com/logto-io/go/v2/client"
	"github.com/logto-io/go/v2/core"
)

func mustEnv(name string) string {
	value := os.Getenv(name)
	if value == "" {
		log.Fatalf("set %s (see .env.example)", name)
	}
	return value
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

func main() {
	baseUrl := strings.TrimRight(envOr("BASE_URL", "http://localhost:3000"), "/")
	redirectUri := baseUrl + "/callback"
	postSignOutRedirectUri := baseUrl + "/"

	// Endpoint is Portico's endpoint, e.g. http://localhost:3001 (the issuer is Endpoint/oidc).
	// The SDK always adds the scopes openid, offline_access and profile.
	logtoConfig := &client.LogtoConfig{
		Endpoint:  strings.TrimRight(mustEnv("LOGTO_ENDPOINT"), "/"),
		AppId:     mustEnv("LOGTO_APP_ID"),
		AppSecret: mustEnv("LOGTO_APP_SECRET"),
		Scopes:    []string{core.UserScopeEmail},
	}

	// Sessions in memory, as in the Logto guide: the cookie holds only the session id.
	// Use a shared store (Redis, a database) when several processes serve the app.
	store := memstore.NewStore([]byte(mustEnv("SESSION_SECRET")))
	store.Options(sessions.Options{
		Path:     "/",
		MaxAge:   14 * 24 * 3600,
		HttpOnly: true,
		Secure:   strings.HasPrefix(baseUrl, "https://"),
		SameSite: http.SameSiteLaxMode,
	})

	router := gin.Default()
	router.Use(sessions.Sessions("logto-session", store))

	logtoClientOf := func(ctx *gin.Context) *client.LogtoClient {
		return client.NewLogtoClient(logtoConfig, &SessionStorage{session: sessions.Default(ctx)})
	}

	router.GET("/", func(ctx *gin.Context) {
		logtoClient := logtoClientOf(ctx)

		authState := `<p id="state">You are not signed in.</p>` +
			`<p><a href="/sign-in">Sign in</a></p>`
		if logtoClient.IsAuthenticated() {
			who := "(unknown)"
			if claims, err := logtoClient.GetIdTokenClaims(); err == nil {
				who = claims.Sub
				if claims.Email != "" {
					who = claims.Email
				} else if claims.Username != "" {
					who = claims.Username
				}
			}
			authState = `<p id="state">You are signed in as <b>` + html.EscapeString(who) + `</b>.</p>` +
				`<p><a href="/user-info">User info</a> · <a href="/sign-out">Sign out</a></p>`
		}

		homePage := `<!doctype html><title>Portico + Gin</title><h1>Hello Portico</h1>` + authState
		ctx.Data(http.StatusOK, "text/html; charset=utf-8", []byte(homePage))
	})

	router.GET("/sign-in", func(ctx *gin.Context) {
		// The SDK stores PKCE verifier and state in the session, then sends the user to
		// Portico's sign-in page.
		signInUri, err := logtoClientOf(ctx).SignInWithRedirectUri(redirectUri)
		if err != nil {
			ctx.String(http.StatusInternalServerError, err.Error())
			return
		}
		ctx.Redirect(http.StatusTemporaryRedirect, signInUri)
	})

	router.GET("/callback", func(ctx *gin.Context) {
		// Checks state, redeems the code (Basic auth with the app secret), verifies the ID
		// token against Portico's JWKS and stores the tokens in the session.
		if err := logtoClientOf(ctx).HandleSignInCallback(ctx.Request); err != nil {
			ctx.String(http.StatusInternalServerError, err.Error())
			return
		}
		ctx.Redirect(http.StatusTemporaryRedirect, "/")
	})

	router.GET("/user-info", func(ctx *gin.Context) {
		logtoClient := logtoClientOf(ctx)
		if !logtoClient.IsAuthenticated() {
			ctx.Redirect(http.StatusTemporaryRedirect, "/sign-in")
			return
		}
		// Refreshes the access token with the refresh token when it has expired.
		userInfo, err := logtoClient.FetchUserInfo()
		if err != nil {
			ctx.String(http.StatusInternalServerError, err.Error())
			return
		}
		ctx.JSON(http.StatusOK, userInfo)
	})

	router.GET("/sign-out", func(ctx *gin.Context) {
		// Clears the session and sends the user to Portico's end-session endpoint, which asks
		// them to confirm and then returns them to postSignOutRedirectUri.
		signOutUri, err := logtoClientOf(ctx).SignOut(postSignOutRedirectUri)
		if err != nil {
			ctx.String(http.StatusInternalServerError, err.Error())
			return
		}
		ctx.Redirect(http.StatusTemporaryRedirect, signOutUri)
	})

	address := envOr("ADDRESS", "localhost:3000")
	log.Printf("listening on http://%s", address)
	if err := router.Run(address); err != nil {
		log.Fatal(err)
	}
}
