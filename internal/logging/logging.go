// Package logging builds the exporter's go-kit logger from the --log.level
// and --log.format flags and bridges it to log/slog for libraries that take
// an *slog.Logger (exporter-toolkit).
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	sloggokit "github.com/tjhop/slog-gokit"
)

// Levels and Formats are the accepted flag values.
var (
	Levels  = []string{"debug", "info", "warn", "error"}
	Formats = []string{"logfmt", "json"}
)

// Config is what the flags select.
type Config struct {
	Level  string
	Format string
}

// AddFlags registers --log.level and --log.format.
func AddFlags(app *kingpin.Application) *Config {
	c := &Config{}
	app.Flag("log.level", "Only log messages with the given severity or above. One of: ["+strings.Join(Levels, ", ")+"]").
		Default("info").EnumVar(&c.Level, Levels...)
	app.Flag("log.format", "Output format of log messages. One of: ["+strings.Join(Formats, ", ")+"]").
		Default("logfmt").EnumVar(&c.Format, Formats...)
	return c
}

// New returns a leveled, timestamped logger writing to w, and the same
// logger without timestamp and caller for Slog, whose handler adds its own.
func New(w io.Writer, c Config) (logger, forSlog log.Logger, err error) {
	var l log.Logger
	switch c.Format {
	case "", "logfmt":
		l = log.NewLogfmtLogger(log.NewSyncWriter(w))
	case "json":
		l = log.NewJSONLogger(log.NewSyncWriter(w))
	default:
		return nil, nil, fmt.Errorf("unknown log format %q", c.Format)
	}
	var opt level.Option
	switch c.Level {
	case "debug":
		opt = level.AllowDebug()
	case "", "info":
		opt = level.AllowInfo()
	case "warn":
		opt = level.AllowWarn()
	case "error":
		opt = level.AllowError()
	default:
		return nil, nil, fmt.Errorf("unknown log level %q", c.Level)
	}
	l = level.NewFilter(l, opt)
	return log.With(l, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller), l, nil
}

// Slog bridges a go-kit logger (the second result of New) to slog at the
// configured level.
func Slog(l log.Logger, c Config) *slog.Logger {
	lv := new(slog.LevelVar)
	switch c.Level {
	case "debug":
		lv.Set(slog.LevelDebug)
	case "warn":
		lv.Set(slog.LevelWarn)
	case "error":
		lv.Set(slog.LevelError)
	default:
		lv.Set(slog.LevelInfo)
	}
	return slog.New(sloggokit.NewGoKitHandler(l, lv))
}
