package bot

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/refundbot/refundbot/flows"
)

// Albums in webhook mode.
//
// Telegram's Bot API server posts a chat's messages one at a time: the
// next only once the bot answered 2xx to the one before (tdlib's
// WebhookActor keeps one update in flight per queue, and a chat's messages
// share one). So an album comes as separate requests, spread by the
// balancer over the replicas, and the replica holding the first item
// cannot wait for the rest before it answers: they would not come. Each
// item is therefore answered once it is stored in the AlbumStore (a
// failure to store it answers 503, and Telegram sends it again); the
// replica whose item claimed the album waits until no item came for
// AlbumWait, takes every stored item and runs them as one input, merged
// by mergeAlbums as the poller merges them. From then on the store, not
// Telegram, holds the album: the claim is a lease the claimer renews, and
// a replica that dies with one is replaced by another's sweep once it runs
// out; the items are dropped only after their input was handled, and
// their handled-marks make a second run of a batch a no-op. An item that
// comes after its album was taken is an album of its own; one stored or
// handled before is dropped. A later update of the chat (a "done" pressed,
// a text) waits in the session store's Begin until the album's turn is
// over, so it does not overtake the album.

// AlbumStore keeps the items of webhook albums where every replica sees
// them; flows/redisstore's Store implements it. A claim names one holder's
// hold on an album; one another replica took over is flows.ErrLeaseLost.
type AlbumStore interface {
	// AddAlbumItem stores an album item (raw is its update's JSON), moves
	// the album's quiet deadline to quiet from now and, when nobody holds
	// the album, claims it for the caller (claim > 0). dup means it is
	// stored or handled already. An error means it was not stored.
	AddAlbumItem(ctx context.Context, chatID int64, group string, updateID int, raw []byte, quiet time.Duration) (claim int64, dup bool, err error)
	// TakeAlbum gives the claimer the batch to handle: the one taken and
	// not finished, or, once the album was quiet long enough, every item
	// stored. wait > 0 asks to call again after it; neither items nor
	// wait means the album is over.
	TakeAlbum(ctx context.Context, chatID int64, group string, claim int64) (items [][]byte, wait time.Duration, err error)
	// ExtendAlbum renews the claim while its batch is handled.
	ExtendAlbum(ctx context.Context, chatID int64, group string, claim int64) error
	// FinishAlbum drops the batch taken, once handled; more means items
	// came after it and the claim is kept for them.
	FinishAlbum(ctx context.Context, chatID int64, group string, claim int64) (more bool, err error)
	// ClaimStaleAlbum claims an album whose claimer died; claim 0: none.
	ClaimStaleAlbum(ctx context.Context) (chatID int64, group string, claim int64, err error)
	// LeaseTTL is how long a claim lasts unless renewed.
	LeaseTTL() time.Duration
}

// maxAlbumRetries bounds how often an album whose replies could not be
// delivered is tried again before it is given up, as the poller bounds a
// batch's; an outage is waited out however long it lasts.
const maxAlbumRetries = 20

// maxStalePerSweep bounds the albums one sweep takes over, so that one
// replica does not take every album of a dead one at once.
const maxStalePerSweep = 50

// storeAlbumItem answers an album item once it is stored, starting the
// album's collection when this item claimed it.
func (w *Webhook) storeAlbumItem(ctx context.Context, rw http.ResponseWriter, it item, body []byte) int {
	chatID, group, updateID := it.in.ChatID, it.mediaGroupID, it.in.UpdateIDs[0]
	claim, dup, err := w.cfg.Albums.AddAlbumItem(ctx, chatID, group, updateID, body, w.cfg.AlbumWait)
	if err != nil {
		// Not stored: acknowledged, it would be lost.
		w.cfg.Logger.WarnContext(ctx, "store album item; Telegram will send it again", "chat_id", chatID,
			"update_id", updateID, "err", err)
		rw.Header().Set("Retry-After", "1")
		return answer(rw, http.StatusServiceUnavailable, "album item not stored")
	}
	if dup {
		return answer(rw, http.StatusOK, "duplicate")
	}
	if claim > 0 {
		w.collect(chatID, group, claim, w.cfg.AlbumWait)
	}
	return answer(rw, http.StatusOK, "stored")
}

// collect sees a claimed album through in the background, in the handling
// context: the request that claimed it is answered at once.
func (w *Webhook) collect(chatID int64, group string, claim int64, wait time.Duration) {
	w.albums.Go(func() {
		a := albumRun{w: w, chatID: chatID, group: group, claim: claim}
		a.run(w.cfg.HandleContext, wait)
	})
}

// Run looks for albums whose claimer died (a replica killed between
// storing an album and handling it) every AlbumSweep until ctx ends, and
// sees them through. Without an AlbumStore it only waits for ctx.
func (w *Webhook) Run(ctx context.Context) {
	if w.cfg.Albums == nil {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(w.cfg.AlbumSweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.sweep(ctx)
		}
	}
}

// sweep takes over the albums whose claim ran out.
func (w *Webhook) sweep(ctx context.Context) {
	for range maxStalePerSweep {
		chatID, group, claim, err := w.cfg.Albums.ClaimStaleAlbum(ctx)
		if err != nil {
			if ctx.Err() == nil {
				w.cfg.Logger.WarnContext(ctx, "look for albums whose replica stopped", "err", err)
			}
			return
		}
		if claim == 0 {
			return
		}
		w.cfg.Logger.InfoContext(ctx, "album taken over from a replica that stopped", "chat_id", chatID)
		w.collect(chatID, group, claim, 0)
	}
}

// Wait waits for the albums this replica is seeing through; call it once
// the HTTP server stopped serving. They end within the handling context.
func (w *Webhook) Wait() { w.albums.Wait() }

// albumRun is one claim on an album, seen through.
type albumRun struct {
	w      *Webhook
	chatID int64
	group  string
	claim  int64
}

// run takes the album's batches and handles each as one input until the
// album is over, the claim is lost, or ctx ends (the claim then runs out
// and another replica takes the album over).
func (a *albumRun) run(ctx context.Context, wait time.Duration) {
	store, log := a.w.cfg.Albums, a.w.cfg.Logger
	// Renewed for as long as it is held, retry waits included: a claim
	// that ran out while this replica waited would start a second run.
	stop := a.keepClaim(ctx)
	defer stop()
	storeFailures, handleFailures := 0, 0
	for {
		if wait > 0 && flows.Sleep(ctx, wait) != nil {
			return
		}
		wait = 0
		items, next, err := store.TakeAlbum(ctx, a.chatID, a.group, a.claim)
		switch {
		case errors.Is(err, flows.ErrLeaseLost):
			log.InfoContext(ctx, "album taken over by another replica", "chat_id", a.chatID, "err", err)
			return
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			storeFailures++
			log.WarnContext(ctx, "take album; will try again", "chat_id", a.chatID, "err", err, "failures", storeFailures)
			wait = retryWait(nil, storeFailures)
			continue
		case next > 0:
			wait = next
			continue
		case len(items) == 0:
			return
		}
		storeFailures = 0
		if err := a.handle(ctx, items); err != nil {
			if ctx.Err() != nil {
				return
			}
			handleFailures++
			if outage(err) || handleFailures <= maxAlbumRetries {
				if !outage(err) { // the dialog logged the outage itself
					log.WarnContext(ctx, "deliver album replies; will try again", "chat_id", a.chatID, "err", err,
						"failures", handleFailures)
				}
				// TakeAlbum gives the same batch again.
				wait = retryWait(nil, handleFailures)
				continue
			}
			log.ErrorContext(ctx, "album replies not delivered; giving up on it", "chat_id", a.chatID, "err", err)
		}
		handleFailures = 0
		more, err := a.finish(ctx)
		if err != nil || !more {
			return
		}
	}
}

// handle runs a batch as one input. It returns an error only when the
// batch must be handled again.
func (a *albumRun) handle(ctx context.Context, items [][]byte) error {
	for _, in := range albumInputs(ctx, a.w.cfg.Logger, items) {
		err := handleObserved(ctx, a.w.cfg.Handler, in, a.w.cfg.Sender, a.w.cfg.Observer)
		switch {
		case err == nil:
		case tryAgain(err):
			return err
		default:
			// The buyer was answered kindly, as for a single update.
			a.w.cfg.Logger.ErrorContext(ctx, "handle album", "chat_id", in.ChatID, "update_id", in.UpdateIDs[0], "err", err)
		}
	}
	return nil
}

// finish drops the handled batch, trying again while the store is out:
// until it is dropped, the chat's later updates wait for it.
func (a *albumRun) finish(ctx context.Context) (more bool, err error) {
	for failures := 1; ; failures++ {
		more, err = a.w.cfg.Albums.FinishAlbum(ctx, a.chatID, a.group, a.claim)
		if err == nil || errors.Is(err, flows.ErrLeaseLost) || ctx.Err() != nil {
			return more, err
		}
		a.w.cfg.Logger.WarnContext(ctx, "finish album; will try again", "chat_id", a.chatID, "err", err, "failures", failures)
		if flows.Sleep(ctx, retryWait(nil, failures)) != nil {
			return false, err
		}
	}
}

// keepClaim renews the claim every third of its life, and returns the
// function that stops it.
func (a *albumRun) keepClaim(ctx context.Context) (stop func()) {
	return flows.Renew(ctx, a.w.cfg.Albums.LeaseTTL()/3, func(ctx context.Context) bool {
		err := a.w.cfg.Albums.ExtendAlbum(ctx, a.chatID, a.group, a.claim)
		if errors.Is(err, flows.ErrLeaseLost) {
			return false // the next TakeAlbum or FinishAlbum learns it too
		}
		if err != nil && ctx.Err() == nil {
			// The store may be back before the claim runs out.
			a.w.cfg.Logger.WarnContext(ctx, "extend album claim", "chat_id", a.chatID, "err", err)
		}
		return true
	})
}

// albumInputs turns a batch of stored updates into inputs, in message
// order: one for an album, merged as the poller merges one.
func albumInputs(ctx context.Context, log *slog.Logger, items [][]byte) []flows.Input {
	updates := make([]update, 0, len(items))
	for _, raw := range items {
		u, err := decodeUpdate(raw)
		if err != nil || u.Message == nil {
			// Stored by this bot after the same decoding: only a
			// different version's item can fail here.
			log.WarnContext(ctx, "stored album item unreadable; dropped", "err", err)
			continue
		}
		updates = append(updates, u)
	}
	sort.Slice(updates, func(i, j int) bool {
		if a, b := updates[i].Message.MessageID, updates[j].Message.MessageID; a != b {
			return a < b
		}
		return updates[i].UpdateID < updates[j].UpdateID
	})
	its := make([]item, 0, len(updates))
	for _, u := range updates {
		if it, ok := toInput(u); ok {
			its = append(its, it)
		}
	}
	return mergeAlbums(its)
}
