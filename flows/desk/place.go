package desk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// The buyer's place in the queue. A queued buyer gets one message saying
// how many are ahead of them and, when the queue's history allows, about
// how long the wait is; the message is edited in place as the place
// moves, rather than a new one sent each time, and only so often: a
// private chat allows about a message a second and the bot 30 a second in
// all, edits included.

// places is the Desk's part that tells queued buyers their place: the
// message, its text (with the desk's opening hours when it is closed) and
// its refresh.
type places struct{ *core }

// Defaults of the place refresh.
const (
	// DefaultPlaceEditGap: one buyer's place message is edited at most
	// once a minute, however fast the queue moves.
	DefaultPlaceEditGap = time.Minute
	// DefaultPlaceEdits: one refresh edits at most a second's worth of
	// the bot's sending budget (SEND_RATE_GLOBAL's default); the front of
	// the queue goes first, the rest at the next refresh.
	DefaultPlaceEdits = 25
)

// placeText is what a queued buyer's place message says at now: outside
// the desk's hours, when it opens (there is no wait to estimate while
// nobody works); otherwise how many are ahead and, when est has one, the
// wait.
func (d *places) placeText(lang string, ahead int, est refund.WaitEstimate, now time.Time) string {
	if opening := d.openingText(lang, now); opening != "" {
		return opening
	}
	minutes := 0
	if wait, ok := est.For(ahead); ok {
		minutes = waitMinutes(wait)
	}
	return d.cfg.Texts.Text(d.cfg.Texts.Match(lang), locales.QueuedForAgent, map[string]any{"Ahead": ahead,
		"Minutes": minutes})
}

// waitMinutes rounds an estimate up to whole minutes, and coarser as it
// grows (to 5 above 10 minutes, to 10 above 30), so that the message is
// edited when the estimate moves, not with its noise.
func waitMinutes(d time.Duration) int {
	m := int((d + time.Minute - 1) / time.Minute)
	switch {
	case m < 1:
		return 1
	case m <= 10:
		return m
	case m <= 30:
		return (m + 4) / 5 * 5
	}
	return (m + 9) / 10 * 10
}

// currentPlace is the place text of a queued escalation now.
func (d *places) currentPlace(ctx context.Context, e refund.Escalation, lang string) (string, error) {
	now := d.cfg.Now()
	if !d.cfg.Hours.Open(now) {
		return d.placeText(lang, 0, refund.WaitEstimate{}, now), nil
	}
	pos, err := d.cfg.Escalations.QueuePosition(ctx, e.ID)
	if err != nil {
		return "", err
	}
	est, err := d.cfg.Escalations.EstimateWait(ctx)
	if err != nil {
		return "", err
	}
	return d.placeText(lang, max(pos-1, 0), est, now), nil
}

// tellPlaceIn tells the buyer of the turn their place, in a message the
// dispatcher links to the escalation once sent, so that it can be edited.
func (d *places) tellPlaceIn(ctx context.Context, t *flows.Turn, e refund.Escalation) error {
	text, err := d.currentPlace(ctx, e, t.Lang)
	if err != nil {
		return err
	}
	if err := d.cfg.Escalations.RecordPlace(ctx, e.ID, text); err != nil {
		return err
	}
	// A posting to the buyer's own chat, because only postings carry a
	// link; it goes after the turn's replies.
	t.Post(t.In.ChatID, flows.Message{Text: text}, &flows.Link{Escalation: e.ID, Kind: flows.LinkPlace})
	return nil
}

// RefreshPlaces edits each queued buyer's place message whose text is not
// what it should say now: someone ahead was taken, came back to the
// queue, or closed, the estimate moved, or the desk opened. A message is
// edited only when its text changes, at most once every PlaceEditGap, and
// one refresh makes at most PlaceEdits edits, the front of the queue
// first. Of several replicas refreshing at once, one makes each edit. It
// returns how many edits it tried, failed ones included: they count
// against the limits all the same.
func (d *places) RefreshPlaces(ctx context.Context, send flows.Sender) (int, error) {
	open, err := d.cfg.Escalations.Open(ctx)
	if err != nil {
		return 0, err
	}
	now := d.cfg.Now()
	var est refund.WaitEstimate
	estimated := false
	edits, ahead := 0, 0
	var errs []error
	for _, e := range open {
		if e.Status != refund.EscalationQueued {
			continue
		}
		place := ahead
		ahead++
		if e.PlaceMessageID == 0 || (!e.PlaceEditedAt.IsZero() && now.Sub(e.PlaceEditedAt) < d.cfg.PlaceEditGap) {
			continue
		}
		if !estimated && d.cfg.Hours.Open(now) {
			// Read once a refresh, and only when a message may need it.
			if est, err = d.cfg.Escalations.EstimateWait(ctx); err != nil {
				return edits, err
			}
			estimated = true
		}
		text := d.placeText(e.Language, place, est, now)
		if text == e.PlaceText {
			continue
		}
		if edits == d.cfg.PlaceEdits {
			break
		}
		claimed, err := d.cfg.Escalations.ClaimPlaceEdit(ctx, e, text)
		if err != nil {
			return edits, errors.Join(append(errs, err)...)
		}
		if !claimed {
			continue // another replica's, or it moved meanwhile
		}
		edits++
		if err := send.Edit(ctx, e.BuyerChatID, e.PlaceMessageID, flows.Message{Text: text}); err != nil {
			if ctx.Err() == nil && d.cfg.Undeliverable(err) {
				// The buyer blocked the bot or the message is gone: the
				// text stays claimed, so it is not tried again until the
				// place moves once more.
				d.cfg.Logger.WarnContext(ctx, "buyer's place message cannot be edited", "escalation", e.ID,
					"chat_id", e.BuyerChatID, "err", err)
				continue
			}
			errs = append(errs, fmt.Errorf("edit the place message of escalation %d: %w", e.ID, err),
				d.cfg.Escalations.UnclaimPlaceEdit(ctx, e, text))
		}
	}
	return edits, errors.Join(errs...)
}

// tellPlace gives the buyer their place in the queue, once, in the
// message the place refresh edits later: it is posted at once rather than
// queued, as the card is, for its message ID. A buyer who can never be
// reached (they blocked the bot) counts as told: retrying would hold the
// card's delivery for nothing.
func (d *places) tellPlace(ctx context.Context, e refund.Escalation, n refund.Notice, send flows.Sender) error {
	text, err := d.currentPlace(ctx, e, n.Language)
	if err != nil {
		return fmt.Errorf("place of escalation %d: %w", e.ID, err)
	}
	id, err := send.Post(ctx, n.ChatID, flows.Message{Text: text})
	switch {
	case err != nil && ctx.Err() == nil && d.cfg.Undeliverable(err):
		d.cfg.Logger.WarnContext(ctx, "buyer cannot be told their place in the queue", "escalation", e.ID,
			"chat_id", n.ChatID, "err", err)
	case err != nil:
		return fmt.Errorf("tell chat %d its place in the queue: %w", n.ChatID, err)
	default:
		if err := d.cfg.Escalations.RecordPlace(ctx, e.ID, text); err != nil {
			return err
		}
		if err := d.cfg.Escalations.LinkPlace(ctx, e.ID, id); err != nil {
			return err
		}
	}
	return d.cfg.Escalations.RecordDelivery(ctx, e.ID, e.EvidencePosted, true)
}

// openingText tells a buyer outside the desk's hours when a person will
// pick their chat up; "" when the desk is open.
func (d *places) openingText(lang string, now time.Time) string {
	h := d.cfg.Hours
	if h.Open(now) {
		return ""
	}
	lang = d.cfg.Texts.Match(lang)
	text := func(k locales.Key, data map[string]any) string { return d.cfg.Texts.Text(lang, k, data) }
	var days [7]string
	copy(days[:], strings.Split(text(locales.Weekdays, nil), "|"))
	opens, ok := h.NextOpen(now)
	when := ""
	if ok {
		local, today := opens.In(d.cfg.Location), now.In(d.cfg.Location)
		data := map[string]any{"Time": local.Format("15:04"), "Date": local.Format(text(locales.DateLayout, nil))}
		switch refund.DateOf(local, d.cfg.Location) {
		case refund.DateOf(today, d.cfg.Location):
			when = text(locales.OpensToday, data)
		case refund.DateOf(today.AddDate(0, 0, 1), d.cfg.Location):
			when = text(locales.OpensTomorrow, data)
		default:
			when = text(locales.OpensLater, data)
		}
	}
	sep := "-"
	if strings.HasPrefix(lang, "zh") {
		sep = "至"
	}
	return text(locales.OutsideHours, map[string]any{"Hours": h.Describe(days, sep), "Opens": when})
}
