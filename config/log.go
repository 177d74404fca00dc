package config

import "log/slog"

// The log: section.

var logKeys = []string{"level", "format", "debug_payloads"}

// Log formats.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// Log configures the node's slog logger.
type Log struct {
	// Level is the least level logged. Zero value: info. YAML: level:
	// debug, info, warn or error (slog spellings such as "debug-4" too).
	Level slog.Level
	// Format is FormatText or FormatJSON. Zero value: text.
	Format string
	// DebugPayloads logs every message received, payload included, at
	// debug level (with Level debug). Zero value: no payload is ever
	// logged, as payloads may carry personal data or secrets.
	DebugPayloads bool
}

func (d *decoder) log(me entry, l *Log) {
	es, _ := d.mapping(me.val, me.path)
	for _, e := range es {
		switch e.name {
		case "level":
			s, ok := d.str(e.val, e.path)
			if ok && s != "" {
				if err := l.Level.UnmarshalText([]byte(s)); err != nil {
					d.failf(e.val, e.path, ErrBadLogLevel, "unknown log level %q: want debug, info, warn or error", s)
				}
			}
		case "format":
			l.Format, _ = d.str(e.val, e.path)
		case "debug_payloads":
			l.DebugPayloads = d.boolean(e.val, e.path)
		default:
			d.unknown(e, me.path, logKeys)
		}
	}
}

func (v *validator) log() {
	switch v.c.Log.Format {
	case "", FormatText, FormatJSON:
	default:
		v.failf("log.format", ErrBadLogFormat, "unknown log format %q: want text or json", v.c.Log.Format)
	}
}
