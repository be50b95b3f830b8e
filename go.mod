module github.com/fluxgate/fluxgate

go 1.26.0

require (
	github.com/VictoriaMetrics/metrics v1.45.0
	github.com/cristalhq/jwt/v5 v5.4.0
	github.com/fsnotify/fsnotify v1.10.1
	github.com/goccy/go-yaml v1.19.2
	github.com/libp2p/go-reuseport v0.4.0
	github.com/redis/rueidis v1.0.79
	github.com/valyala/fasthttp v1.78.0
	golang.org/x/sys v0.49.0
)

require (
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/molecule-man/go-brrr v1.3.1 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fastrand v1.1.0 // indirect
	github.com/valyala/histogram v1.2.0 // indirect
)
