module example.com/portico-go-gin

go 1.22

require (
	github.com/gin-contrib/sessions v1.0.2
	github.com/gin-gonic/gin v1.10.0
	github.com/logto-io/go/v2 v2.0.0
)
