package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/bot/telegramfake"
)

// Webhook albums across replicas: two bot processes in webhook mode share
// Redis and PostgreSQL behind a balancer that takes turns, so an album's
// items, which Telegram (the fake) posts one request at a time, land on
// both.

// replicasEnv is a deployment of several bot processes behind a balancer.
type replicasEnv struct {
	*env
	lb       *turnBalancer
	replicas []*replica
}

// newReplicasEnv starts n replicas in webhook mode behind a turn-taking
// balancer; a killed replica's claims and leases run out within 2 s.
func newReplicasEnv(t *testing.T, n int) *replicasEnv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := prepareEnv(t, map[string]string{"WEBHOOK_URL": "http://" + ln.Addr().String() + "/telegram/webhook",
		"WEBHOOK_SECRET": "album-test-secret", "CHAT_LEASE_TTL": "2s"}, nil)
	e.fake.AllowHTTPWebhooks()
	t.Cleanup(e.checkLogs)
	// Until the replicas are up, the balancer answers 502: the fake
	// sends again.
	lb := &turnBalancer{served: map[int][]int{}, lose: map[int]bool{}}
	srv := &http.Server{Handler: lb, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	d := &replicasEnv{env: e, lb: lb}
	for range n {
		d.replicas = append(d.replicas, startReplica(t, e.processVars()))
	}
	e.proc, e.others = d.replicas[0], d.replicas[1:]
	lb.mu.Lock()
	lb.backends = d.replicas
	lb.mu.Unlock()
	return d
}

// turnBalancer sends each request to the next replica in turn, and keeps
// which replicas answered each update 2xx. An update in lose has the
// first such answer lost on its way back (502 instead): Telegram sends
// the update again, though the bot has it.
type turnBalancer struct {
	mu       sync.Mutex
	backends []*replica
	next     int
	served   map[int][]int
	lose     map[int]bool
}

func (lb *turnBalancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var u struct {
		UpdateID int `json:"update_id"`
	}
	if err != nil || json.Unmarshal(body, &u) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	lb.mu.Lock()
	if len(lb.backends) == 0 {
		lb.mu.Unlock()
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	i := lb.next % len(lb.backends)
	lb.next++
	target := lb.backends[i]
	lb.mu.Unlock()
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, "http://"+target.addr+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway) // a killed replica
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	status := resp.StatusCode
	if status >= 200 && status <= 299 {
		lb.mu.Lock()
		lb.served[u.UpdateID] = append(lb.served[u.UpdateID], i)
		if lb.lose[u.UpdateID] {
			delete(lb.lose, u.UpdateID)
			status = http.StatusBadGateway
		}
		lb.mu.Unlock()
	}
	w.WriteHeader(status)
}

// servedBy lists the replicas that answered update id 2xx.
func (lb *turnBalancer) servedBy(id int) []int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return slices.Clone(lb.served[id])
}

// loseAnswer makes the first 2xx answer to update id get lost.
func (lb *turnBalancer) loseAnswer(id int) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.lose[id] = true
}

// toEvidence takes a new buyer with a game card order to the evidence
// step and returns its prompt.
func (d *replicasEnv) toEvidence(buyerID int64, order string) (*buyer, telegramfake.SentMessage) {
	d.t.Helper()
	d.putOrder(order, buyerID, "13800138000", "王者荣耀点卡 100元", "game_card", "95.00")
	b := d.buyer(buyerID, "zh-hans")
	b.say("我要退款 订单号" + order + " 卡密无效")
	b.press(b.expect("时间 + 事件 + 诉求"), "使用这段陈述")
	return b, b.expect("请上传凭证")
}

// sendAlbum sends n photos as one album and returns their update ids and
// file_unique_ids, in the order sent; after, if set, is called after each.
func (d *replicasEnv) sendAlbum(b *buyer, group string, n int, after func(i, updateID int)) (ids []int, files []string) {
	for i := range n {
		caption := ""
		if i == 0 {
			caption = "报错页面"
		}
		id, msg := d.fake.SendPhoto(b.chat, b.user, []byte(fmt.Sprintf("\x89PNG %s photo %d", group, i)), caption, group)
		if after != nil {
			after(i, id)
		}
		ids = append(ids, id)
		files = append(files, msg.Photo[len(msg.Photo)-1].FileUniqueID)
	}
	return ids, files
}

// finishWithFiles presses Done on the latest evidence message, checks the
// summary counts files, submits, and checks the case holds files in order.
func (d *replicasEnv) finishWithFiles(b *buyer, order string, files []string) {
	d.t.Helper()
	summary := b.expect("请核对")
	if want := fmt.Sprintf("凭证：%d 个文件", len(files)); !strings.Contains(summary.Text, want) {
		d.t.Fatalf("summary lacks %q:\n%s", want, summary.Text)
	}
	b.press(summary, "提交申请")
	b.expect("退款申请已提交")
	cases, err := d.db().CasesByOrder(context.Background(), order)
	if err != nil || len(cases) != 1 {
		d.t.Fatalf("order %s: %d cases, %v; want one", order, len(cases), err)
	}
	var got []string
	for _, f := range cases[0].Evidence {
		got = append(got, f.FileUniqueID)
	}
	if !slices.Equal(got, files) {
		d.t.Fatalf("case %s holds files %q; want the album's %q, in its order", cases[0].Number(), got, files)
	}
}

// evidenceAnswers are the bot's answers to files in the chat.
func (d *replicasEnv) evidenceAnswers(b *buyer) []string {
	var out []string
	for _, m := range d.fake.Messages(b.chat.ID) {
		if strings.Contains(m.Text, "已收到") || strings.Contains(m.Text, "已经上传过") {
			out = append(out, firstLine(m.Text))
		}
	}
	return out
}

// TestWebhookAlbumAcrossReplicas: four photos of one album, posted one by
// one to two replicas in turn, get one answer, and the case keeps every
// file in the order sent. "Done" pressed right after the album waits for
// it, so the summary counts all four.
func TestWebhookAlbumAcrossReplicas(t *testing.T) {
	d := newReplicasEnv(t, 2)
	b, ev := d.toEvidence(19101, "KM20261201001")
	ids, files := d.sendAlbum(b, "album-spread", 4, nil)
	b.press(ev, "上传完成")
	b.expect("已收到 4/10")
	d.finishWithFiles(b, "KM20261201001", files)
	if got := d.evidenceAnswers(b); !slices.Equal(got, []string{"已收到 4/10 个文件。可继续上传，或点“上传完成”。"}) {
		t.Fatalf("answers to the album: %q; want one", got)
	}
	replicas := map[int]bool{}
	for _, id := range ids {
		for _, r := range d.lb.servedBy(id) {
			replicas[r] = true
		}
	}
	if len(replicas) != 2 {
		t.Fatalf("the album's items reached replicas %v; the test needs them spread over both", replicas)
	}
}

// TestWebhookAlbumClaimerKilled: the replica that took the album is killed
// while it holds it (its answer failing at Telegram, so it is still in
// hand). The other replica takes the album over once the claim runs out
// and answers it once, with every file.
func TestWebhookAlbumClaimerKilled(t *testing.T) {
	d := newReplicasEnv(t, 2)
	b, _ := d.toEvidence(19102, "KM20261201002")
	tried := d.fake.Calls("sendMessage")
	d.fake.FailNext("sendMessage", 3, http.StatusInternalServerError, 0)
	ids, files := d.sendAlbum(b, "album-kill", 3, nil)
	d.within(waitFor, "the album was never answered", func() bool { return d.fake.Calls("sendMessage") > tried })
	served := d.lb.servedBy(ids[0])
	if len(served) != 1 {
		t.Fatalf("the album's first item was stored by replicas %v; want one", served)
	}
	d.replicas[served[0]].kill()
	if got := d.evidenceAnswers(b); len(got) != 0 {
		t.Fatalf("the album was answered before the kill (%q); the test must kill its claimer first", got)
	}
	got := b.expect("已收到 3/10")
	b.press(got, "上传完成")
	d.finishWithFiles(b, "KM20261201002", files)
	if got := d.evidenceAnswers(b); len(got) != 1 {
		t.Fatalf("answers to the album: %q; want one", got)
	}
}

// TestWebhookAlbumDuplicateItem: an item the bot stored but whose answer
// was lost comes again, to the other replica; it is recognised, and the
// album still gets one answer with each file once.
func TestWebhookAlbumDuplicateItem(t *testing.T) {
	d := newReplicasEnv(t, 2)
	b, _ := d.toEvidence(19103, "KM20261201003")
	ids, files := d.sendAlbum(b, "album-dup", 4, func(i, id int) {
		if i == 0 {
			// The next item, before the fake can deliver it: update
			// ids follow one another.
			d.lb.loseAnswer(id + 1)
		}
	})
	got := b.expect("已收到 4/10")
	if served := d.lb.servedBy(ids[1]); len(served) != 2 {
		t.Fatalf("item 2 was answered by replicas %v; the test needs it delivered twice", served)
	}
	b.quiet()
	b.press(got, "上传完成")
	d.finishWithFiles(b, "KM20261201003", files)
	if got := d.evidenceAnswers(b); len(got) != 1 {
		t.Fatalf("answers to the album: %q; want one", got)
	}
}
