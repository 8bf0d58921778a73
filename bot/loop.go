package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/logctx"
)

// Handler handles one input of one chat; flows.Dialog implements it.
type Handler interface {
	Handle(ctx context.Context, in flows.Input, send flows.Sender) error
}

// Config configures the update loop.
type Config struct {
	Connection *Connection
	Handler    Handler
	Sender     flows.Sender
	Logger     *slog.Logger
	// PollTimeout is the long-poll wait; 30 s if zero.
	PollTimeout time.Duration
	// Workers bounds how many chats are handled at once; 64 if zero.
	Workers int
	// AlbumWait is how long to wait for the rest of an album that a poll
	// cut in two; 300 ms if zero.
	AlbumWait time.Duration
	// MaxBatchRetries bounds how often a batch whose replies could not be
	// delivered is tried again before it is given up; 20 if zero.
	MaxBatchRetries int
	// Observer counts updates; nil counts nothing.
	Observer UpdateObserver
}

// Poller receives updates by long polling and confirms each one to
// Telegram only after it was handled, so a crash loses none.
type Poller struct {
	cfg Config
	api *tgbotapi.BotAPI
}

// NewPoller checks cfg and returns a Poller.
func NewPoller(cfg Config) (*Poller, error) {
	if cfg.Connection == nil || cfg.Handler == nil || cfg.Sender == nil {
		return nil, errors.New("bot: Connection, Handler and Sender are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = 30 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.AlbumWait <= 0 {
		cfg.AlbumWait = 300 * time.Millisecond
	}
	if cfg.MaxBatchRetries <= 0 {
		cfg.MaxBatchRetries = 20
	}
	return &Poller{cfg: cfg, api: cfg.Connection.API}, nil
}

// Run polls until ctx is cancelled. The batch in hand is finished with
// handleCtx, which the caller keeps alive for a grace period so that
// in-flight replies are sent on shutdown.
func (p *Poller) Run(ctx, handleCtx context.Context) error {
	stop := context.AfterFunc(ctx, p.cfg.Connection.StopPolling)
	defer stop()
	// The chats of every batch run on the goroutines of the batches
	// before, whose stacks have grown already.
	chatWorkers := flows.NewWorkers(keptWorkerIdle, p.cfg.Workers)
	defer chatWorkers.Close()
	offset, failures := 0, 0
	var early earlyPolls
	for ctx.Err() == nil {
		started := time.Now()
		updates, err := p.poll(offset, int(p.cfg.PollTimeout/time.Second))
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			p.cfg.Logger.WarnContext(ctx, "get updates", "err", err, "failures", failures)
			p.sleep(ctx, retryWait(err, failures))
			continue
		}
		if len(updates) == 0 {
			if wait := early.after(time.Since(started), p.cfg.PollTimeout); wait > 0 && ctx.Err() == nil {
				if early.n == 1 {
					p.cfg.Logger.WarnContext(ctx, "the Bot API ends long polls early with nothing; backing off",
						"poll_timeout", p.cfg.PollTimeout)
				}
				p.sleep(ctx, wait)
			}
			continue
		}
		early = earlyPolls{}
		if offset > 0 && updates[len(updates)-1].UpdateID < offset {
			// Every id is below the offset the server was given: its ids
			// started again (a self-hosted server lost its state). The
			// handled-update marks tell new updates from old ones.
			p.cfg.Logger.WarnContext(ctx, "update ids started again below the offset", "offset", offset,
				"first_update_id", updates[0].UpdateID)
		}
		if last := updates[len(updates)-1]; last.Message != nil && last.Message.MediaGroupID != "" {
			updates = p.restOfAlbum(ctx, offset, updates)
		}
		next, retry, waiting := p.handleBatch(handleCtx, chatWorkers, updates)
		if retry {
			failures++
			// An outage is waited out however long it lasts: giving up
			// would confirm updates nobody handled.
			if waiting || failures <= p.cfg.MaxBatchRetries {
				p.cfg.Logger.WarnContext(ctx, "replies not delivered; will retry", "from_update_id", next, "failures", failures)
				offset = next
				p.sleep(ctx, retryWait(nil, failures))
				continue
			}
			p.cfg.Logger.ErrorContext(ctx, "replies not delivered; giving up on batch", "from_update_id", next)
		}
		failures = 0
		offset = updates[len(updates)-1].UpdateID + 1
	}
	return nil
}

// earlyPolls counts long polls in a row that came back empty well before
// their timeout, which a Bot API only does when something is wrong; called
// again at once, they would spin a core.
type earlyPolls struct{ n int }

// maxEarlyWait caps the back-off, so that updates that come meanwhile are
// still fetched within seconds.
const maxEarlyWait = 5 * time.Second

// after returns how long to wait after an empty poll that took took: zero
// for a poll that waited out (half) its timeout, otherwise a wait that
// doubles from 100 ms with each early poll in a row.
func (e *earlyPolls) after(took, timeout time.Duration) time.Duration {
	if timeout >= time.Second && took >= timeout/2 {
		e.n = 0
		return 0
	}
	e.n++
	return min(100*time.Millisecond<<min(e.n-1, 6), maxEarlyWait)
}

func retryWait(err error, failures int) time.Duration {
	var tgErr *tgbotapi.Error
	if errors.As(err, &tgErr) && tgErr.RetryAfter > 0 {
		return time.Duration(tgErr.RetryAfter) * time.Second
	}
	wait := 250 * time.Millisecond << min(failures, 7)
	return min(wait, 30*time.Second)
}

// sleep waits d, or until ctx ends.
func (p *Poller) sleep(ctx context.Context, d time.Duration) { _ = flows.Sleep(ctx, d) }

// handleBatch handles a batch, chats concurrently (on workers, at most
// cfg.Workers at once) and each chat's inputs in order. When some chat's
// input must be handled again (its replies could not be delivered, or a
// server was out: waiting) it returns the first update ID to poll from
// again; the updates handled meanwhile are marked in Redis and will be
// dropped as duplicates.
func (p *Poller) handleBatch(ctx context.Context, workers *flows.Workers, updates []update) (retryFrom int, retry, waiting bool) {
	var chats []int64
	byChat := map[int64][]item{}
	for _, u := range updates {
		it, ok := toInput(u)
		if !ok {
			if it.forged != "" {
				p.cfg.Logger.WarnContext(ctx, "update ignored: "+it.forged, "update_id", u.UpdateID)
			}
			continue
		}
		if _, seen := byChat[it.in.ChatID]; !seen {
			chats = append(chats, it.in.ChatID)
		}
		byChat[it.in.ChatID] = append(byChat[it.in.ChatID], it)
	}
	var (
		mu       sync.Mutex
		firstBad = -1
		outages  bool
		wg       sync.WaitGroup
		// Each worker takes the next chat as it is done with one: as many
		// functions on kept goroutines as workers, not one per chat.
		next = make(chan []flows.Input, len(chats))
	)
	for _, chat := range chats {
		next <- mergeAlbums(byChat[chat])
	}
	close(next)
	for range min(p.cfg.Workers, len(chats)) {
		wg.Add(1)
		workers.Go(func() {
			defer wg.Done()
			for inputs := range next {
				if bad, err := p.handleChat(ctx, inputs); err != nil {
					mu.Lock()
					if firstBad == -1 || bad < firstBad {
						firstBad = bad
					}
					outages = outages || outage(err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return firstBad, firstBad != -1, outages
}

// handleChat handles one chat's inputs in order and stops at the first
// that must be handled again, so that later inputs never overtake it; it
// returns that input's first update ID and why.
func (p *Poller) handleChat(ctx context.Context, inputs []flows.Input) (failedUpdate int, err error) {
	for _, in := range inputs {
		err := p.handleOne(ctx, in)
		if err == nil {
			continue
		}
		if tryAgain(err) {
			if !outage(err) { // the dialog logged the outage itself
				p.cfg.Logger.WarnContext(ctx, "deliver replies", "chat_id", in.ChatID, "update_id", in.UpdateIDs[0], "err", err)
			}
			return in.UpdateIDs[0], err
		}
		p.cfg.Logger.ErrorContext(ctx, "handle update", "chat_id", in.ChatID, "update_id", in.UpdateIDs[0], "err", err)
	}
	return 0, nil
}

// handleOne runs one input of the batch.
func (p *Poller) handleOne(ctx context.Context, in flows.Input) error {
	return handleObserved(ctx, p.cfg.Handler, in, p.cfg.Sender, p.cfg.Observer)
}

// UpdateObserver is told how each update went, for metrics.
type UpdateObserver interface {
	UpdateHandled(kind string, took time.Duration, outcome string)
}

// handleObserved runs the handler, turning a panic into an error so that
// one bad update cannot take the bot down, and tells obs how it went.
func handleObserved(ctx context.Context, h Handler, in flows.Input, send flows.Sender, obs UpdateObserver) (err error) {
	start := time.Now()
	// Every line logged while this input is handled names its chat and
	// its update.
	ctx = logctx.With(ctx, "chat_id", in.ChatID, "update_id", in.UpdateIDs[0])
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic handling update %v: %v", in.UpdateIDs, r)
		}
		if obs != nil {
			obs.UpdateHandled(inputKind(in), time.Since(start), outcome(err))
		}
	}()
	return h.Handle(ctx, in, send)
}

// inputKind names what a buyer or an agent sent, as metrics label it.
func inputKind(in flows.Input) string {
	switch {
	case in.Callback != nil:
		return "callback"
	case len(in.Files) > 1:
		return "album"
	case len(in.Files) == 1 && in.Files[0].Kind == refund.EvidencePhoto:
		return "photo"
	case len(in.Files) == 1:
		return "document"
	case in.Unsupported != "":
		return in.Unsupported
	case in.Command != "":
		return "command"
	case in.Text != "":
		return "text"
	}
	return "other"
}

// tryAgain reports whether an input should be handled again later: its
// replies could not be delivered, for a reason that may pass, or a server
// it needs was out. Nothing of it was saved, so a second try is safe.
func tryAgain(err error) bool {
	var notDelivered *flows.DeliveryError
	return outage(err) || errors.As(err, &notDelivered) && Transient(notDelivered.Err)
}

// outage reports whether an input waits for a server the bot needs: it is
// tried again for as long as that takes, since nothing else can be handled
// meanwhile either and Telegram keeps unconfirmed updates for a day.
func outage(err error) bool {
	var postponed *flows.RetryError
	return errors.As(err, &postponed)
}

func outcome(err error) string {
	var notDelivered *flows.DeliveryError
	switch {
	case err == nil:
		return "ok"
	case outage(err):
		return "postponed"
	case errors.As(err, &notDelivered):
		return "undelivered"
	}
	return "error"
}
