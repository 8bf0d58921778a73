package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/flows/redisstore"
	"github.com/refundbot/refundbot/flows/redisstore/redistest"
)

const albumSecret = "album-secret"

// albumPhoto is the webhook body of one photo of album "g1" in chat 5.
func albumPhoto(updateID, messageID int) string {
	return fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":1,"media_group_id":"g1",`+
		`"photo":[{"file_id":"f%d","file_unique_id":"u%d","width":1,"height":1}],`+
		`"chat":{"id":5,"type":"private"},"from":{"id":5,"first_name":"B"}}}`, updateID, messageID, messageID, messageID)
}

// albumReplica is one replica's webhook over the shared Redis, recording
// the inputs it handled.
type albumReplica struct {
	hook   *Webhook
	cancel context.CancelFunc
	mu     sync.Mutex
	inputs []flows.Input
	// fail makes the next handled inputs fail as undelivered.
	fail int
}

func (r *albumReplica) handled() []flows.Input {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.inputs)
}

// newAlbumReplica starts a replica on store (each its own Store over the
// shared Redis and prefix, as separate processes have); its sweep runs
// until the test ends or cancel (the replica's death).
func newAlbumReplica(t *testing.T, store AlbumStore) *albumReplica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &albumReplica{cancel: cancel}
	hook, err := NewWebhook(WebhookConfig{Secret: albumSecret, HandleContext: ctx, Sender: NewSender(nil, nil, SenderOptions{}),
		Albums: store, AlbumWait: 150 * time.Millisecond, AlbumSweep: 50 * time.Millisecond,
		Handler: handlerFunc(func(_ context.Context, in flows.Input, _ flows.Sender) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.fail > 0 {
				r.fail--
				return &flows.DeliveryError{Err: &tgbotapi.Error{Code: 502, Message: "Bad Gateway"}}
			}
			r.inputs = append(r.inputs, in)
			return nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	r.hook = hook
	go hook.Run(ctx)
	t.Cleanup(func() {
		cancel()
		hook.Wait()
	})
	return r
}

// post sends a webhook request to the replica and returns the answer.
func (r *albumReplica) post(t *testing.T, body string) int {
	t.Helper()
	req := httptest.NewRequest("POST", "/telegram/webhook", strings.NewReader(body))
	req.Header.Set(secretHeader, albumSecret)
	rec := httptest.NewRecorder()
	r.hook.ServeHTTP(rec, req)
	return rec.Code
}

// waitInputs waits until the replicas handled n inputs in all and returns
// them.
func waitInputs(t *testing.T, n int, replicas ...*albumReplica) []flows.Input {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var all []flows.Input
		for _, r := range replicas {
			all = append(all, r.handled()...)
		}
		if len(all) >= n || time.Now().After(deadline) {
			return all
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkOneAlbum fails unless inputs is one input of the album's updates
// and files, in message order.
func checkOneAlbum(t *testing.T, inputs []flows.Input, updateIDs []int, files []string) {
	t.Helper()
	if len(inputs) != 1 {
		t.Fatalf("handled %d inputs, want the album as one: %+v", len(inputs), inputs)
	}
	var got []string
	for _, f := range inputs[0].Files {
		got = append(got, f.FileUniqueID)
	}
	if !slices.Equal(inputs[0].UpdateIDs, updateIDs) || !slices.Equal(got, files) {
		t.Fatalf("album input has updates %v and files %v; want %v and %v", inputs[0].UpdateIDs, got, updateIDs, files)
	}
}

// TestWebhookAlbumAcrossReplicas: an album's items posted one by one,
// alternately to two replicas (a duplicate among them), are answered 200
// each and handled once, as one input with every file in message order,
// by the replica that got the first; nothing is handled while items come.
func TestWebhookAlbumAcrossReplicas(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	a := newAlbumReplica(t, redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{LeaseTTL: 2 * time.Second}))
	b := newAlbumReplica(t, redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{LeaseTTL: 2 * time.Second}))
	// Items 1-4; item 2 is delivered twice, the second time after the
	// first answer was lost on its way to Telegram.
	sends := []struct {
		to        *albumReplica
		update, m int
	}{{a, 901, 11}, {b, 902, 12}, {a, 902, 12}, {b, 903, 13}, {a, 904, 14}}
	for _, s := range sends {
		if code := s.to.post(t, albumPhoto(s.update, s.m)); code != http.StatusOK {
			t.Fatalf("update %d answered %d, want 200 once stored", s.update, code)
		}
		time.Sleep(40 * time.Millisecond) // Telegram's round trip between items
		if got := len(a.handled()) + len(b.handled()); got != 0 {
			t.Fatalf("an input was handled while the album's items were still coming")
		}
	}
	checkOneAlbum(t, waitInputs(t, 1, a, b), []int{901, 902, 903, 904}, []string{"u11", "u12", "u13", "u14"})
	if len(a.handled()) != 1 {
		t.Errorf("the album was handled by the replica that did not get its first item")
	}
	time.Sleep(300 * time.Millisecond) // anything handled twice would be now
	if n := len(a.handled()) + len(b.handled()); n != 1 {
		t.Fatalf("%d inputs; want the album handled once", n)
	}
}

// TestWebhookAlbumClaimerDies: the replica that claimed an album stops
// before handling it; another replica's sweep takes the album over once
// the claim runs out and handles it once, whole. An album whose replies
// could not be delivered is tried again by its claimer, not dropped.
func TestWebhookAlbumClaimerDies(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	const leaseTTL = 400 * time.Millisecond
	a := newAlbumReplica(t, redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{LeaseTTL: leaseTTL}))
	b := newAlbumReplica(t, redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{LeaseTTL: leaseTTL}))
	a.post(t, albumPhoto(801, 21))
	b.post(t, albumPhoto(802, 22))
	a.post(t, albumPhoto(803, 23))
	a.cancel() // a dies in the quiet period, its claim in hand
	b.mu.Lock()
	b.fail = 1
	b.mu.Unlock()
	checkOneAlbum(t, waitInputs(t, 1, a, b), []int{801, 802, 803}, []string{"u21", "u22", "u23"})
	if len(b.handled()) != 1 {
		t.Fatalf("the surviving replica handled %d inputs, want the album", len(b.handled()))
	}
	time.Sleep(leaseTTL + 200*time.Millisecond)
	if n := len(a.handled()) + len(b.handled()); n != 1 {
		t.Fatalf("%d inputs; want the album handled once", n)
	}
}

// TestWebhookAlbumItemNotStored: an album item the store could not keep
// (Redis out) is answered 503, so that Telegram sends it again, and
// nothing is handled.
func TestWebhookAlbumItemNotStored(t *testing.T) {
	t.Parallel()
	r := newAlbumReplica(t, downAlbums{})
	if code := r.post(t, albumPhoto(1, 1)); code != http.StatusServiceUnavailable {
		t.Fatalf("album item with Redis out answered %d, want 503", code)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(r.handled()); n != 0 {
		t.Fatalf("%d inputs handled from an item that was not stored", n)
	}
}

// downAlbums is an AlbumStore whose server is out.
type downAlbums struct{}

var errDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (downAlbums) AddAlbumItem(context.Context, int64, string, int, []byte, time.Duration) (int64, bool, error) {
	return 0, false, errDown
}

func (downAlbums) TakeAlbum(context.Context, int64, string, int64) ([][]byte, time.Duration, error) {
	return nil, 0, errDown
}
func (downAlbums) ExtendAlbum(context.Context, int64, string, int64) error { return errDown }
func (downAlbums) FinishAlbum(context.Context, int64, string, int64) (bool, error) {
	return false, errDown
}

func (downAlbums) ClaimStaleAlbum(context.Context) (int64, string, int64, error) {
	return 0, "", 0, errDown
}
func (downAlbums) LeaseTTL() time.Duration { return time.Second }
