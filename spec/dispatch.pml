/*
 * dispatch.pml: handoff's connection hand-off (memcached's thread.c), in
 * Promela for spin. The correctness argument it checks is spec/SPEC.md.
 *
 * The system (spec/DESIGN.md §1): Acceptors take connections from the
 * listeners; each connection gets a sequence number and a Worker
 * (round-robin), is pushed onto that Worker's queue under the queue's lock,
 * and then the Worker is woken by a token on its notify channel (a pipe byte
 * or an eventfd increment). A Worker reads the tokens, pops connections off
 * its queue and registers each in its own epoll set.
 *
 * Code modelled (impl/reactor), step by step (SPEC.md §2 has the full map):
 *   Accept     acceptor.acceptAll (accept4), acceptor.admit, balancer.pick:
 *              one atomic add gives the sequence number and the worker
 *   Dispatch   worker.dispatch: queue.pushLocked under q.mu
 *   Notify     worker.dispatch: wakeFlag.CompareAndSwap(0, 1) when
 *              coalesced, then notifier.signal
 *   Wake       worker.run (epoll_wait) -> worker.onNotify -> notifier.drain
 *   Pop        worker.pop: queue.popLocked under q.mu
 *   Register   worker.register: epollAdd, then OnOpen
 * and memcached 1.6 thread.c: dispatch_conn_new, thread_libevent_process.
 *
 * Designs, one chosen with -D (spin -a -DDESIGN_MEMCACHED dispatch.pml):
 *   correct
 *     DESIGN_MEMCACHED   pipe; a token per connection; the worker reads up to
 *                        READMAX (32) tokens and pops one connection per token
 *     DESIGN_EVENTFD     eventfd counter; a read returns and resets it; the
 *                        worker pops that many
 *     DESIGN_DRAIN       pipe, a token per connection; the worker reads the
 *                        tokens, then pops until the queue is empty (a
 *                        wake-up that finds nothing is harmless)
 *     DESIGN_COALESCED   a token only when the worker's wake-up flag flips
 *                        0->1; the worker reads it, clears the flag, then pops
 *                        until a pop finds the queue empty (the re-check)
 *   seeded bugs, each must be refuted
 *     BUG_NOTIFY_BEFORE_PUSH           memcached with Notify before Dispatch
 *     BUG_COALESCED_CLEAR_AFTER_DRAIN  coalesced, flag cleared after the drain
 *     BUG_DROP_ON_FULL_PIPE            memcached; EAGAIN on a full pipe
 *                                      ignored (the token is lost)
 *     BUG_RACY_RR                      two acceptors; the round-robin counter
 *                                      read and written back in two steps
 *     BUG_UNLOCKED_POP                 memcached; push and pop without the
 *                                      lock, as a Go slice's separate reads
 *                                      and writes of its header
 *     BUG_EVENTFD_POP_ONE              eventfd; the read resets the count but
 *                                      the worker pops one connection
 *
 * Parameters (-D): NW workers (1..4, default 2), NC connections (default 3),
 * NA acceptors (default 1; 2 for BUG_RACY_RR), PIPECAP tokens a pipe holds
 * (default 1, so that a full pipe is reachable), READMAX tokens per pipe read
 * (default 32, memcached's MAX_PIPE_EVENTS). LEMMAS also asserts the
 * inductive invariants SPEC.md's argument uses (correct designs only).
 *
 * Properties (spec/DESIGN.md §2):
 *   P1 exactly-once      asserted at Register, by the Monitor, at quiescence
 *   P2 round-robin       asserted at Dispatch
 *   P3 per-worker FIFO   asserted at Register
 *   P4 no lost wake-up   the Monitor (state form), Quiescence (every fd
 *                        registered when nothing can move) and the LTL
 *                        formula p4 (-DLTL_P4), checked with pan -a -f
 *
 * Commands (spec/check.sh runs them all, in a temporary directory):
 *   safety, breadth-first so that a counterexample is a shortest one:
 *     spin -a -DDESIGN_MEMCACHED -DLEMMAS dispatch.pml
 *     cc -O0 -DBFS -DSAFETY -DNOFAIR -o pan pan.c && ./pan -m100000 -w20
 *   liveness (P4 as LTL, weak fairness; -A: the assertions were the run
 *   above):
 *     spin -a -DDESIGN_MEMCACHED -DLTL_P4 dispatch.pml
 *     cc -O0 -DNFAIR=3 -o pan pan.c && ./pan -a -f -A -m100000 -w20
 *   a counterexample, step by step (the same -D flags as the run):
 *     spin -t -DBUG_RACY_RR dispatch.pml
 *   -DNO_MONITOR leaves P4 to the quiescence check alone.
 *
 * States stored (spin 6.5.2, spec/check.sh), safety / liveness:
 *   NW=2 NC=3 PIPECAP=1 NA=1: memcached 446/413, eventfd 524/491,
 *     drain 713/611, coalesced 1152/1031
 *   NA=2 NW=2 NC=4 PIPECAP=1: memcached 13516/13364, eventfd 18565/18413,
 *     drain 30822/27725, coalesced 71935/66744
 *   NA=1 NW=3 NC=6 PIPECAP=2: memcached 19683/19621, coalesced 100430/98043
 * Seeded bugs at NW=2 NC=3 PIPECAP=1 (NA=2 for racy-rr): property, states
 * until the shortest counterexample, its length in steps:
 *   bug-notify-before-push P4 110 6, bug-coalesced-clear-after-drain P4 457
 *   17, bug-drop-on-full-pipe P4 304 13, bug-racy-rr P2 38 4,
 *   bug-unlocked-pop P1 337 17, bug-eventfd-pop-one P4 304 13.
 */

/* ---------------------------------------------------------------- bounds */

#ifndef NW
#define NW 2
#endif
#ifndef NC
#define NC 3
#endif
#ifndef PIPECAP
#define PIPECAP 1
#endif
#ifndef READMAX
#define READMAX 32
#endif

/* ---------------------------------------------------------------- designs */
/*
 * Each design is a combination of features:
 *   PIPE / EVENTFD    the notify channel
 *   PER_TOKEN         one Pop per token read (memcached, eventfd)
 *   DRAIN             Pop until the queue is empty (drain, coalesced)
 *   COALESCED         the wake-up flag
 * and at most one seeded fault.
 */
#if defined(DESIGN_MEMCACHED)
#define PIPE
#define PER_TOKEN
#elif defined(DESIGN_EVENTFD)
#define EVENTFD
#define PER_TOKEN
#elif defined(DESIGN_DRAIN)
#define PIPE
#define DRAIN
#elif defined(DESIGN_COALESCED)
#define PIPE
#define DRAIN
#define COALESCED
#elif defined(BUG_NOTIFY_BEFORE_PUSH)
#define PIPE
#define PER_TOKEN
#define FAULT_NOTIFY_FIRST
#elif defined(BUG_COALESCED_CLEAR_AFTER_DRAIN)
#define PIPE
#define DRAIN
#define COALESCED
#define FAULT_CLEAR_LATE
#elif defined(BUG_DROP_ON_FULL_PIPE)
#define PIPE
#define PER_TOKEN
#define FAULT_DROP_ON_FULL
#elif defined(BUG_RACY_RR)
#define PIPE
#define PER_TOKEN
#define FAULT_RACY_RR
#ifndef NA
#define NA 2
#endif
#elif defined(BUG_UNLOCKED_POP)
#define PIPE
#define PER_TOKEN
#define FAULT_UNLOCKED
#elif defined(BUG_EVENTFD_POP_ONE)
#define EVENTFD
#define PER_TOKEN
#define FAULT_POP_ONE
#else
#error "choose a design: -DDESIGN_MEMCACHED, -DDESIGN_EVENTFD, -DDESIGN_DRAIN, -DDESIGN_COALESCED or a -DBUG_..."
#endif

#ifndef NA
#define NA 1
#endif

/* ---------------------------------------------------------------- state */

/* Accept: the next connection's sequence number (0..NC). A connection is
 * named by its number; the fd itself plays no part in the hand-off. */
byte nextc;

#ifdef FAULT_RACY_RR
/* The round-robin counter, kept apart from the sequence number as memcached
 * keeps last_thread, so that it can be read and written back in two steps. */
byte rr;
#endif

/* A Worker's queue: n connections starting at v[head] (memcached's CQ,
 * impl/reactor's queue). head only grows, so v has room for all NC. */
typedef Queue {
	byte v[NC];
	byte head;
	byte n
};
Queue q[NW];

/* The notify channel. A pipe is a bounded channel of PIPECAP tokens; an
 * eventfd is a counter. PENDING(w): tokens written and not yet read. */
#ifdef PIPE
chan pipe[NW] = [PIPECAP] of { bit };
#define PENDING(w) len(pipe[w])
#else
byte efd[NW];
#define PENDING(w) efd[w]
#endif

#ifdef COALESCED
/* The wake-up flag: 1 from the Acceptor's 0->1 flip until the Worker, woken
 * by the token that flip wrote, clears it. */
bit flag[NW];
#endif

/* ---------------------------------------------------------------- ghosts */
/* Bookkeeping for the properties; nothing in the system reads these. */

bit  waiting[NW];   /* Worker w is blocked in epoll_wait on its notify channel */
byte inflight[NW];  /* Acceptors that pushed onto w's queue and have not yet
                       written its token (or decided not to, coalesced) */
#ifdef PER_TOKEN
byte hand[NW];      /* tokens Worker w has read and not yet spent on a Pop */
#endif
#ifdef DRAIN
bit  idle[NW];      /* Worker w's last Pop found its queue empty, and it has
                       not been woken since */
#endif
#ifdef COALESCED
bit  armed[NW];     /* an Acceptor flipped w's flag 0->1 and has not yet
                       written the token */
bit  woke[NW];      /* Worker w read its token and has not cleared its flag */
#endif
byte wpush[NW];     /* pushes onto w's queue (counted where n grows) */
byte wpop[NW];      /* pops from w's queue (counted where n shrinks) */
byte wdisp[NW];     /* connections dispatched to w so far */
byte wreg[NW];      /* connections w has registered so far */
byte dseq[NC];      /* dseq[c]: c was the dseq[c]-th connection dispatched to
                       its worker (P3) */
byte owner[NC];     /* 1 + the worker that registered c; 0: not registered */
byte nreg;          /* connections registered (each counted once) */

/* Assertion names: each is 1 until the check of that name fails, so that pan
 * prints "assertion violated P4_no_lost_wakeup". */
bit P1_exactly_once = 1;
bit P2_round_robin = 1;
bit P3_per_worker_fifo = 1;
bit P4_no_lost_wakeup = 1;
bit lemma = 1;

#if NW == 1
#define ALLW(P) (P(0))
#elif NW == 2
#define ALLW(P) (P(0) && P(1))
#elif NW == 3
#define ALLW(P) (P(0) && P(1) && P(2))
#elif NW == 4
#define ALLW(P) (P(0) && P(1) && P(2) && P(3))
#else
#error "NW must be 1..4"
#endif

/* ---------------------------------------------------------------- steps */

/*
 * Dispatch: push c onto w's queue. Stands for worker.dispatch's
 * q.mu.Lock(); q.pushLocked(it); traceDispatch; q.mu.Unlock(): the lock
 * makes the push one step (the d_step stands for the mutex).
 * Simplified: the queue never fills (impl/reactor grows its ring; admission
 * bounds it by MaxConns).
 */
inline dispatched(a, w, c) {
	printf("Dispatch a=%d w=%d c=%d\n", a, w, c);
	P2_round_robin = (w == c % NW);
	assert(P2_round_robin);
	dseq[c] = wdisp[w];
	wdisp[w]++;
#ifndef FAULT_NOTIFY_FIRST
	inflight[w]++;
#endif
}

#ifndef FAULT_UNLOCKED
inline push(a, w, c) {
	d_step {
		q[w].v[q[w].head + q[w].n] = c;
		q[w].n++;
		wpush[w]++;
		dispatched(a, w, c)
	}
}
#else
/*
 * BUG_UNLOCKED_POP: q = append(q, c) without the lock. Go reads the slice
 * header, writes the element, then writes the whole header back; a pop that
 * ran in between is undone (its connection popped again) or a pop's header
 * write undoes the push (the connection vanishes). Simplified: each header
 * read and write is one step (a torn header would only add behaviours).
 */
inline push(a, w, c) {
	d_step { qh = q[w].head; qn = q[w].n; printf("Push.read a=%d w=%d head=%d n=%d\n", a, w, qh, qn) }
	d_step { q[w].v[qh + qn] = c; dispatched(a, w, c) }
	d_step {
		q[w].head = qh;
		q[w].n = qn + 1;
		wpush[w]++;
		printf("Push.write a=%d w=%d head=%d n=%d\n", a, w, qh, qn + 1);
		qh = 0;
		qn = 0
	}
}
#endif

/*
 * Notify: write one token for w. Stands for notifier.signal (pipe: one byte
 * 'c'; eventfd: add 1), preceded by traceNotify. The pipe's write end is
 * non-blocking; signal waits out EAGAIN with poll, which is the blocking send
 * here: the Acceptor waits while the pipe holds PIPECAP tokens.
 */
inline notify(a, w) {
#if defined(EVENTFD)
	d_step { efd[w]++; inflight[w]--; printf("Notify a=%d w=%d\n", a, w) }
#elif defined(FAULT_DROP_ON_FULL)
	/* BUG_DROP_ON_FULL_PIPE: write(2) returns EAGAIN and the token is lost. */
	d_step {
		if
		:: nfull(pipe[w]) -> pipe[w]!1; printf("Notify a=%d w=%d\n", a, w)
		:: full(pipe[w]) -> printf("Notify a=%d w=%d: pipe full, EAGAIN ignored, token lost\n", a, w)
		fi;
		inflight[w]--
	}
#else
	atomic { pipe[w]!1 -> inflight[w]--; printf("Notify a=%d w=%d\n", a, w) }
#endif
}

#ifdef COALESCED
/*
 * Notify, coalesced: the compare-and-swap of w's flag from 0 to 1; only the
 * winner writes a token. Stands for worker.dispatch's
 * wakeFlag.CompareAndSwap(0, 1) followed by notifier.signal. The loser
 * relies on the token of whoever set the flag: pending, about to be written,
 * or already read by a Worker that has not yet cleared the flag and so has
 * not yet drained. The flip and the write are two steps, as in the reactor
 * (traceNotify and the write syscall sit between them); the flag's atomic
 * CompareAndSwap is the d_step.
 */
inline notify_coalesced(a, w) {
	if
	:: d_step { flag[w] == 1 -> inflight[w]--; printf("Coalesce a=%d w=%d\n", a, w) }
	:: d_step { flag[w] == 0 -> flag[w] = 1; armed[w] = 1; printf("Flip a=%d w=%d\n", a, w) }
	   atomic { pipe[w]!1 -> armed[w] = 0; inflight[w]--; printf("Notify a=%d w=%d\n", a, w) }
	fi
}
#endif

/*
 * Wake: Worker w, blocked in epoll_wait, reads its tokens. Stands for
 * notifier.drain: a pipe read returns min(pending, READMAX) bytes, an
 * eventfd read returns the counter and resets it. Simplified: epoll_wait's
 * return and the read are one step (nothing else touches the channel's read
 * side).
 */
inline wake(w, n) {
	d_step {
		PENDING(w) > 0 ->
#ifdef PIPE
		do
		:: n < READMAX && len(pipe[w]) > 0 -> pipe[w]?_; n++
		:: else -> break
		od;
#else
		n = efd[w];
		efd[w] = 0;
#endif
		waiting[w] = 0;
#ifdef DRAIN
		idle[w] = 0;
#endif
#ifdef COALESCED
		woke[w] = 1;
#endif
#ifdef PER_TOKEN
#ifdef FAULT_POP_ONE
		hand[w] = 1;    /* BUG_EVENTFD_POP_ONE: the count is dropped */
#else
		hand[w] = n;
#endif
#endif
		printf("Wake w=%d n=%d\n", w, n);
		n = 0
	}
}

/*
 * Pop: take the head of w's queue, under the lock (worker.pop:
 * queue.popLocked inside q.mu, with tracePop). got is 0 when the queue is
 * empty: memcached's cq_pop returning NULL. guard is the condition for
 * trying: a token in hand (per-token) or true (drain). The d_step stands for
 * the mutex; the reactor's ring (grow, wrap-around) is an array with a head
 * that only grows, which holds the same sequence.
 */
#ifndef FAULT_UNLOCKED
inline pop(w, c, got, guard) {
	d_step {
		guard;
#ifdef PER_TOKEN
		hand[w]--;
#endif
		if
		:: q[w].n > 0 ->
			c = q[w].v[q[w].head];
			q[w].v[q[w].head] = 0;
			q[w].head++;
			q[w].n--;
			wpop[w]++;
			got = 1;
			printf("Pop w=%d c=%d\n", w, c)
		:: else ->
			got = 0;
#ifdef DRAIN
			idle[w] = 1;
#endif
			printf("Pop w=%d: queue empty\n", w)
		fi
	}
}
#else
/* BUG_UNLOCKED_POP: c := q[0]; q = q[1:] without the lock: read the header
 * (and the head element), then write the header back. */
inline pop(w, c, got, guard) {
	atomic {
		guard;
		hand[w]--;
		qh = q[w].head;
		qn = q[w].n;
		if
		:: qn > 0 -> c = q[w].v[qh]; got = 1; printf("Pop.read w=%d head=%d n=%d\n", w, qh, qn)
		:: else -> got = 0; qh = 0; printf("Pop w=%d: queue empty\n", w)
		fi
	}
	if
	:: got ->
		d_step {
			q[w].head = qh + 1;
			q[w].n = qn - 1;
			wpop[w]++;
			printf("Pop w=%d c=%d (writes head=%d n=%d)\n", w, c, qh + 1, qn - 1);
			qh = 0;
			qn = 0
		}
	:: else
	fi
}
#endif

/*
 * Register: add c to w's epoll set (worker.register: epollAdd, then
 * traceRegister; OnOpen follows). Checks P1 (never registered twice) and P3
 * (the k-th connection dispatched to w is the k-th it registers).
 * Simplified: epoll_ctl never fails (the reactor closes the fd if it does;
 * P5 covers that).
 */
inline register(w, c) {
	d_step {
		printf("Register w=%d c=%d\n", w, c);
		P1_exactly_once = (owner[c] == 0);
		assert(P1_exactly_once);
		P3_per_worker_fifo = (dseq[c] == wreg[w]);
		assert(P3_per_worker_fifo);
		owner[c] = w + 1;
		wreg[w]++;
		nreg++;
		c = 0
	}
}

/* Pop until a Pop finds the queue empty, registering each connection:
 * worker.onNotify's coalesced loop (for { pop; register }). The failing Pop
 * is the re-check; it runs under the lock like any other. */
inline drain_queue(w, c, got) {
	do
	:: pop(w, c, got, true);
	   if
	   :: got -> register(w, c)
	   :: else -> break
	   fi
	od
}

/* ---------------------------------------------------------------- processes */

/*
 * Acceptor a: accept until NC connections have been accepted (by all
 * Acceptors together). Stands for acceptor.acceptAll/admit and
 * worker.dispatch.
 */
proctype Acceptor(byte a) {
	byte c, w;
#ifdef FAULT_RACY_RR
	byte t;
#endif
#ifdef FAULT_UNLOCKED
	byte qh, qn;
#endif
	do
	:: nextc >= NC -> break
#ifndef FAULT_RACY_RR
	/* Accept: accept4 returns an fd; balancer.pick's one atomic add gives
	 * it the next sequence number c and the worker c mod NW. */
	:: d_step {
		nextc < NC -> c = nextc; nextc++; w = c % NW;
		printf("Accept a=%d c=%d\n", a, c)
	   }
#else
	/* BUG_RACY_RR: the counter is read with the accept ... */
	:: d_step {
		nextc < NC -> c = nextc; nextc++; t = rr;
		printf("Accept a=%d c=%d (reads rr=%d)\n", a, c, t)
	   }
	   /* ... and written back in a later step: another Acceptor can read the
	    * same value in between, and two connections go to one worker. */
	   d_step { rr = (t + 1) % NW; w = t; t = 0; printf("Advance a=%d rr=%d\n", a, rr) }
#endif
#ifdef FAULT_NOTIFY_FIRST
	   /* BUG_NOTIFY_BEFORE_PUSH: the token goes out before the push. */
	   atomic { pipe[w]!1 -> printf("Notify a=%d w=%d\n", a, w) }
	   push(a, w, c);
	   d_step { c = 0; w = 0 }
#else
	   push(a, w, c);       /* Dispatch */
#ifdef COALESCED
	   notify_coalesced(a, w);
#else
	   notify(a, w);        /* Notify */
#endif
	   d_step { c = 0; w = 0 }
#endif
	od
}

/*
 * Worker w: stands for the worker's event loop (worker.run, worker.onNotify):
 * wait for its notify channel to be readable, read the tokens, pop and
 * register.
 * Simplified: a Worker does nothing else (its connections' I/O and its task
 * list touch neither its queue nor its notify channel).
 */
proctype Worker(byte w) {
	byte n, c;
	bit got;
#ifdef FAULT_UNLOCKED
	byte qh, qn;
#endif
end_wait:
	do
	:: wake(w, n);                           /* Wake */
#ifdef PER_TOKEN
	   /* one Pop per token; a Pop that finds nothing ends the batch, as
	    * thread_libevent_process returns when cq_pop gives NULL */
	   do
	   :: pop(w, c, got, hand[w] > 0);
	      if
	      :: got -> register(w, c)
	      :: else -> hand[w] = 0
	      fi
	   :: hand[w] == 0 -> break
	   od;
#endif
#if defined(DRAIN) && !defined(COALESCED)
	   drain_queue(w, c, got);
#endif
#ifdef COALESCED
#ifndef FAULT_CLEAR_LATE
	   atomic { flag[w] = 0; woke[w] = 0; printf("Clear w=%d\n", w) }
	   drain_queue(w, c, got);
#else
	   /* BUG_COALESCED_CLEAR_AFTER_DRAIN: a push between the last Pop and
	    * the clear sees the flag still set and writes no token. */
	   drain_queue(w, c, got);
	   atomic { flag[w] = 0; woke[w] = 0; printf("Clear w=%d\n", w) }
#endif
#endif
	   atomic { waiting[w] = 1; c = 0; got = 0; printf("Wait w=%d\n", w) }  /* back to epoll_wait */
	od
}

/* ---------------------------------------------------------------- checks */

/* P1, state form: a queue holds exactly the connections pushed onto it and
 * not yet popped (none lost, none duplicated). */
#define QUEUE_EXACT(w) (q[w].n == wpush[w] - wpop[w])

/* P4, state form: a Worker asleep beside a non-empty queue has a token
 * pending, or an Acceptor that pushed is still to write one. */
#define AWAKE_OR_TOKEN(w) (q[w].n == 0 || !waiting[w] || PENDING(w) > 0 || inflight[w] > 0)

/* The inductive invariants of SPEC.md's argument, per design. */
#if defined(PER_TOKEN)
/* every queued connection is matched by one token: pending, in the worker's
 * hand, or about to be written */
#define LEMMA(w) (q[w].n == PENDING(w) + hand[w] + inflight[w])
#elif defined(COALESCED)
/* the flag is set exactly when one token is pending, about to be written, or
 * read and not yet answered by a clear; and a worker whose last Pop found the
 * queue empty has a token coming for anything pushed since */
#define LEMMA(w) (flag[w] == PENDING(w) + armed[w] + woke[w] && \
	(!idle[w] || q[w].n == 0 || PENDING(w) + inflight[w] > 0))
#else
/* a worker whose last Pop found the queue empty has a token pending or coming
 * for everything pushed since */
#define LEMMA(w) (!idle[w] || q[w].n <= PENDING(w) + inflight[w])
#endif

#ifdef LEMMAS
#define INVARIANTS (ALLW(QUEUE_EXACT) && ALLW(AWAKE_OR_TOKEN) && ALLW(LEMMA))
#else
#define INVARIANTS (ALLW(QUEUE_EXACT) && ALLW(AWAKE_OR_TOKEN))
#endif

/* The Monitor waits for a state in which a global invariant fails; pan runs
 * it in every reachable state. -DNO_MONITOR leaves P4 to the quiescence
 * check, the form model/ checks (its counterexamples then compare). */
#ifndef NO_MONITOR
active proctype Monitor() {
end_monitor:
	atomic {
		!INVARIANTS ->
		P1_exactly_once = ALLW(QUEUE_EXACT);
		assert(P1_exactly_once);
		P4_no_lost_wakeup = ALLW(AWAKE_OR_TOKEN);
		assert(P4_no_lost_wakeup);
#ifdef LEMMAS
		lemma = ALLW(LEMMA);
		assert(lemma)
#endif
	}
}
#endif

/* Quiescence: when no process can move, every connection was accepted and
 * registered (P1: none lost; P4: no worker asleep beside a queued one). */
#define QUEUE_EMPTY(w) (q[w].n == 0)
active proctype Quiescence() {
end_quiescence:
	timeout ->
	d_step {
		P4_no_lost_wakeup = ALLW(QUEUE_EMPTY);
		assert(P4_no_lost_wakeup);
		P1_exactly_once = (nextc == NC && nreg == NC);
		assert(P1_exactly_once)
	}
}

#ifdef LTL_P4
/* P4, liveness: every connection is eventually registered. The acceptors
 * accept all NC, so this is "every dispatched fd is eventually registered"
 * for each of them; a run that stops short (a lost wake-up, an acceptor stuck
 * on a full pipe) stutters in a state where it is false. */
ltl p4 { <> (nreg == NC) }
#endif

init {
	byte i;
	atomic {
		for (i : 0 .. NW - 1) {
			waiting[i] = 1;
			run Worker(i)
		}
		for (i : 0 .. NA - 1) {
			run Acceptor(i)
		}
		i = 0
	}
}
