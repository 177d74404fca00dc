package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat. It is
// sysconf(_SC_CLK_TCK), which is 100 on every Linux architecture Go runs on;
// reading it would need cgo.
const clockTick = 10 * time.Millisecond

// procSample is what /proc tells about a process at one moment.
type procSample struct {
	cpu          time.Duration // utime + stime
	rssKiB       int64         // VmRSS
	hwmKiB       int64         // VmHWM, the peak RSS
	syscr, syscw int64         // read and write system calls
	ok           bool
}

// sampleProc reads the CPU time, memory and I/O system call counts of pid.
// A field it cannot read stays zero: /proc/PID/io needs the right to trace
// pid, which a router of another user denies.
func sampleProc(pid int) procSample {
	var s procSample
	if pid <= 0 {
		return s
	}
	dir := "/proc/" + strconv.Itoa(pid)
	if b, err := os.ReadFile(dir + "/stat"); err == nil {
		// The command name in parentheses may hold spaces; fields are
		// counted from the last ')'.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 {
			f := strings.Fields(string(b[i+1:]))
			// f[0] is field 3 (state); utime and stime are fields 14, 15.
			if len(f) > 12 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				s.cpu = time.Duration(ut+st) * clockTick
				s.ok = true
			}
		}
	}
	if b, err := os.ReadFile(dir + "/status"); err == nil {
		s.rssKiB = statusKiB(b, "VmRSS:")
		s.hwmKiB = statusKiB(b, "VmHWM:")
	}
	if b, err := os.ReadFile(dir + "/io"); err == nil {
		for line := range strings.Lines(string(b)) {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ": ")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "syscr":
				s.syscr = n
			case "syscw":
				s.syscw = n
			}
		}
	}
	return s
}

func statusKiB(b []byte, key string) int64 {
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// machineBusy returns the CPU time all processors of the machine spent
// busy (everything but idle and iowait), from /proc/stat.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	// guest and guest_nice are already counted in user and nice.
	if len(f) > 10 {
		for _, v := range f[9:11] {
			n, _ := strconv.ParseInt(v, 10, 64)
			busy -= n
		}
	}
	return time.Duration(busy) * clockTick
}

// selfCPU returns the CPU time of this process, all threads.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// errNoPID: no process on this machine listens on the router URL's address.
var errNoPID = errors.New("no local process listens there")

// FindPID returns the process that listens on the address of a router URL
// (ws://, tcp://, unix://): the socket's inode from /proc/net/{tcp,tcp6,unix},
// then the process holding a descriptor on it from /proc/*/fd. It sees only
// processes the caller may inspect (its own user's, or all for root).
func FindPID(rawURL string) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, err
	}
	var inodes map[string]bool
	if u.Scheme == "unix" {
		inodes, err = unixInodes(u.Path)
	} else {
		inodes, err = tcpInodes(u.Host)
	}
	if err != nil {
		return 0, err
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("%s: %w", rawURL, errNoPID)
	}
	procs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return 0, err
	}
	for _, p := range procs {
		fds, err := os.ReadDir(p + "/fd")
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(p + "/fd/" + fd.Name())
			if err != nil {
				continue
			}
			if ino, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(ino, "]")] {
				return strconv.Atoi(filepath.Base(p))
			}
		}
	}
	return 0, fmt.Errorf("%s: %w", rawURL, errNoPID)
}

// tcpInodes returns the inodes of the listening TCP sockets bound to the
// port of hostport, on its address or on the wildcard address.
func tcpInodes(hostport string) (map[string]bool, error) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", portStr, err)
	}
	want := fmt.Sprintf(":%04X", port)
	ips, _ := net.LookupIP(host)
	inodes := make(map[string]bool)
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st ... inode (field 9)
			fl := strings.Fields(sc.Text())
			if len(fl) < 10 || fl[3] != "0A" || !strings.HasSuffix(fl[1], want) {
				continue
			}
			ip := procIP(strings.TrimSuffix(fl[1], want))
			if ip == nil || !ip.IsUnspecified() && len(ips) > 0 && !containsIP(ips, ip) {
				continue
			}
			inodes[fl[9]] = true
		}
		_ = f.Close()
	}
	return inodes, nil
}

// procIP decodes an address of /proc/net/tcp: 32-bit words in host order
// (little endian on every machine this runs on).
func procIP(h string) net.IP {
	b := make([]byte, len(h)/2)
	for i := range b {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil
		}
		b[i] = byte(v)
	}
	for i := 0; i+4 <= len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b)
}

func containsIP(list []net.IP, ip net.IP) bool {
	for _, l := range list {
		if l.Equal(ip) {
			return true
		}
	}
	return false
}

func unixInodes(path string) (map[string]bool, error) {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return nil, err
	}
	inodes := make(map[string]bool)
	for line := range strings.Lines(string(b)) {
		// Num RefCount Protocol Flags Type St Inode Path
		fl := strings.Fields(line)
		if len(fl) >= 8 && fl[7] == path {
			inodes[fl[6]] = true
		}
	}
	return inodes, nil
}
