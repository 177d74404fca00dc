package config

import (
	"fmt"
	"strconv"
	"strings"
)

// sizeUnits are the suffixes a size may carry. Both decimal and binary
// units are accepted because people write both and mean what they write;
// the bare letters "k", "M" are not, since their base is a guess.
var sizeUnits = []struct {
	name string
	mult int64
}{
	{"b", 1},
	{"kb", 1000}, {"kib", 1 << 10},
	{"mb", 1000 * 1000}, {"mib", 1 << 20},
	{"gb", 1000 * 1000 * 1000}, {"gib", 1 << 30},
}

// parseSize reads a size in bytes: "1048576", "64KiB", "16 MiB", "1MB".
// Units are case-insensitive. The result is at most 1<<62, which no
// size setting allows, so the caller's range check sees it without overflow.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("want bytes or a number with a unit: B, KB, KiB, MB, MiB, GB or GiB")
	}
	suffix := strings.TrimSpace(s[i:])
	unit := strings.ToLower(suffix)
	mult := int64(-1)
	if unit == "" {
		mult = 1
	}
	for _, u := range sizeUnits {
		if u.name == unit {
			mult = u.mult
		}
	}
	if mult < 0 {
		return 0, fmt.Errorf("unknown unit %q: want B, KB, KiB, MB, MiB, GB or GiB", suffix)
	}
	if i > 18 {
		return 0, fmt.Errorf("too large")
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, fmt.Errorf("too large")
	}
	return n * mult, nil
}

// formatSize writes n in the largest binary unit that divides it, so that
// errors show sizes the way people write them in the file.
func formatSize(n int64) string {
	switch {
	case n != 0 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n != 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n != 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}
