package reliability

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// FreePort returns a loopback TCP port nobody listens on at the moment it
// returns, for a server that cannot be given port 0.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// AwaitListen dials addr until a connect succeeds, for at most timeout.
func AwaitListen(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %v: %w", addr, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Memcached is a Debian memcached subprocess, the reference the tests hold
// handoffd to.
type Memcached struct {
	// Addr is its loopback address, "127.0.0.1:40123".
	Addr string
	cmd  *exec.Cmd
}

// StartMemcached runs memcached with args on a free loopback port, UDP off,
// as nobody when started by root (memcached refuses root without -u), and
// waits up to 10 s for it to listen. The error wraps exec.ErrNotFound when
// memcached is not installed.
func StartMemcached(args ...string) (*Memcached, error) {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	args = append(append([]string{}, args...), "-U", "0", "-l", "127.0.0.1", "-p", strconv.Itoa(port))
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	m := &Memcached{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: exec.Command(bin, args...)}
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	if err := AwaitListen(m.Addr, 10*time.Second); err != nil {
		m.Kill()
		return nil, fmt.Errorf("memcached %v: %w", args, err)
	}
	return m, nil
}

// PID is memcached's process id, for its /proc figures.
func (m *Memcached) PID() int { return m.cmd.Process.Pid }

// Kill stops memcached and waits for it; a second call does nothing.
func (m *Memcached) Kill() {
	if m.cmd.ProcessState == nil {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
	}
}
