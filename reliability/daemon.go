package reliability

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// HandoffdPackage is the import path go build is given for handoffd.
const HandoffdPackage = "github.com/handoffd/handoff/impl/cmd/handoffd"

// BuildHandoffd builds handoffd into dir and returns the binary's path; flags
// go to go build ("-race"). It runs go build in the current directory, which
// must be inside handoff's module (a test's directory is).
func BuildHandoffd(dir string, flags ...string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "handoffd")
	args := append(append([]string{"build"}, flags...), "-o", bin, HandoffdPackage)
	cmd := exec.Command("go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", HandoffdPackage, err, out)
	}
	return bin, nil
}

// noFileEnv carries the RLIMIT_NOFILE a re-executed launcher sets before it
// exec's the real program (ExecWithNoFile).
const noFileEnv = "HANDOFF_RELIABILITY_NOFILE"

// ExecWithNoFile is the launcher half of Options.NoFile: when the process was
// started by Daemon with a NoFile limit, it sets RLIMIT_NOFILE (soft and hard)
// and exec's the program named by its arguments, never returning; otherwise
// it returns at once. Every program that starts a Daemon with NoFile calls it
// first thing (TestMain, main), because it re-executes itself as the
// launcher: Go's os/exec has no way to set a child's limit.
func ExecWithNoFile() {
	v := os.Getenv(noFileEnv)
	if v == "" {
		return
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || len(os.Args) < 2 {
		fmt.Fprintf(os.Stderr, "reliability launcher: bad %s=%q or no program\n", noFileEnv, v)
		os.Exit(127)
	}
	env := make([]string, 0, len(os.Environ()))
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, noFileEnv+"=") {
			env = append(env, e)
		}
	}
	err = execWithNoFile(n, os.Args[1], os.Args[1:], env)
	fmt.Fprintf(os.Stderr, "reliability launcher: %s: %v\n", os.Args[1], err)
	os.Exit(127)
}

// Options configure a Daemon.
type Options struct {
	// Args are handoffd's flags; "-p 0" and "-l 127.0.0.1" are added unless
	// they are given, so that each daemon gets a free loopback port, and
	// "-u nobody" when the tests run as root.
	Args []string
	// NoFile, when not 0, is the RLIMIT_NOFILE the daemon runs under (see
	// ExecWithNoFile).
	NoFile uint64
	// StartTimeout bounds the wait for the listening line; default 30 s.
	StartTimeout time.Duration
	// Env is added to the daemon's environment ("GORACE=...").
	Env []string
}

// Daemon is a handoffd subprocess.
type Daemon struct {
	// Addr is the first address handoffd printed ("tcp://127.0.0.1:40123").
	Addr string
	// Pid is the process id (of handoffd itself: the launcher exec's it).
	Pid int
	cmd *exec.Cmd

	// exited is closed once cmd.Wait has returned; waitErr is its result.
	exited  chan struct{}
	waitErr error

	mu  sync.Mutex
	log strings.Builder // stderr so far, guarded by mu
}

var listeningRE = regexp.MustCompile(`listening on (\S+)`)

// Start runs the handoffd binary bin with o and waits for its listening line.
func Start(bin string, o Options) (*Daemon, error) {
	args := o.Args
	has := func(f string) bool {
		for _, a := range args {
			if a == f {
				return true
			}
		}
		return false
	}
	if !has("-p") && !has("-s") {
		args = append([]string{"-p", "0"}, args...)
	}
	if !has("-l") && !has("-s") {
		args = append([]string{"-l", "127.0.0.1"}, args...)
	}
	if os.Geteuid() == 0 && !has("-u") {
		// As memcached, handoffd refuses to run as root without -u.
		args = append(args, "-u", "nobody")
	}
	cmd := exec.Command(bin, args...)
	if o.NoFile > 0 {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(self, append([]string{bin}, args...)...)
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", noFileEnv, o.NoFile))
	}
	if len(o.Env) > 0 {
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(cmd.Env, o.Env...)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &Daemon{Pid: cmd.Process.Pid, cmd: cmd, exited: make(chan struct{})}
	found := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.mu.Lock()
			d.log.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- strings.Split(m[1], ",")[0]:
				default:
				}
			}
		}
	}()
	go func() {
		// Wait only after the scanner has read everything: Wait closes the
		// pipe, and the last lines (the stop record) must not be lost.
		<-scanned
		d.waitErr = cmd.Wait()
		close(d.exited)
	}()
	timeout := o.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	select {
	case d.Addr = <-found:
		return d, nil
	case <-d.exited:
		return nil, fmt.Errorf("handoffd exited before listening: %v\n%s", d.waitErr, d.Log())
	case <-time.After(timeout):
		d.Kill()
		return nil, fmt.Errorf("handoffd did not print its address within %v\n%s", timeout, d.Log())
	}
}

// Log returns everything handoffd wrote to stderr so far.
func (d *Daemon) Log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// Proc samples the daemon's process.
func (d *Daemon) Proc() (Proc, error) { return ReadProc(d.Pid) }

// Stats reads stats over a new connection.
func (d *Daemon) Stats() (Stats, error) { return StatsOf(d.Addr) }

// ErrStillRunning is returned by Wait when the timeout passed first.
var ErrStillRunning = errors.New("reliability: handoffd still running")

// Wait waits up to timeout for the process to exit and returns its exit
// error (nil for status 0).
func (d *Daemon) Wait(timeout time.Duration) error {
	select {
	case <-d.exited:
		return d.waitErr
	default:
	}
	select {
	case <-d.exited:
		return d.waitErr
	case <-time.After(timeout):
		return ErrStillRunning
	}
}

// Exited is closed once the process has exited.
func (d *Daemon) Exited() <-chan struct{} { return d.exited }

// Stop sends SIGTERM and waits up to timeout; it returns the exit error and
// how long the exit took.
func (d *Daemon) Stop(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return 0, err
	}
	err := d.Wait(timeout)
	return time.Since(start), err
}

// Kill kills the process if it still runs and reaps it.
func (d *Daemon) Kill() {
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Kill()
	<-d.exited
}
