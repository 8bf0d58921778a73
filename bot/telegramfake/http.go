package telegramfake

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// The HTTP side of the fake: a call routed to its method, the faults a
// test injected, and answers in the Bot API's shapes.

// apiError is an unsuccessful Bot API answer.
type apiError struct {
	code       int
	desc       string
	retryAfter int
	// raw, when set, is written as the whole body instead of a Bot API
	// error object: a proxy's HTML page, an empty 502.
	raw []byte
}

func badRequest(desc string) *apiError {
	return &apiError{code: http.StatusBadRequest, desc: "Bad Request: " + desc}
}

func unauthorized() *apiError { return &apiError{code: http.StatusUnauthorized, desc: "Unauthorized"} }

func notFound() *apiError { return &apiError{code: http.StatusNotFound, desc: "Not Found"} }

// injectedError is what FailNext makes a call answer: Telegram's own words where a code has them.
func injectedError(code, retryAfter int) *apiError {
	e := &apiError{code: code, retryAfter: retryAfter}
	switch code {
	case http.StatusBadRequest:
		e.desc = "Bad Request: injected by telegramfake"
	case http.StatusUnauthorized:
		e.desc = "Unauthorized"
	case http.StatusForbidden:
		e.desc = "Forbidden: bot was blocked by the user"
	case http.StatusNotFound:
		e.desc = "Not Found"
	case http.StatusConflict:
		e.desc = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
	case http.StatusTooManyRequests:
		e.desc = fmt.Sprintf("Too Many Requests: retry after %d", retryAfter)
	default:
		e.desc = http.StatusText(code)
		if e.desc == "" {
			e.desc = fmt.Sprintf("Error %d", code)
		}
	}
	return e
}

// request is a Bot API call's parameters, however they were encoded.
type request struct {
	ctx   context.Context
	form  url.Values
	files map[string][]*multipart.FileHeader
}

func (r *request) str(name string) string { return r.form.Get(name) }

type handlerFunc func(*botAPI, *request) (json.RawMessage, *apiError)

// route maps a method name to its handler. Telegram matches method names case-insensitively;
// the canonical spelling is what Calls, FailNext and DelayNext count under.
func route(method string) (string, handlerFunc) {
	switch strings.ToLower(method) {
	case "getme":
		return "getMe", (*botAPI).getMe
	case "getupdates":
		return "getUpdates", (*botAPI).getUpdates
	case "sendmessage":
		return "sendMessage", (*botAPI).sendMessage
	case "editmessagetext":
		return "editMessageText", (*botAPI).editMessageText
	case "editmessagecaption":
		return "editMessageCaption", (*botAPI).editMessageCaption
	case "editmessagereplymarkup":
		return "editMessageReplyMarkup", (*botAPI).editMessageReplyMarkup
	case "deletemessage":
		return "deleteMessage", (*botAPI).deleteMessage
	case "answercallbackquery":
		return "answerCallbackQuery", (*botAPI).answerCallbackQuery
	case "sendphoto":
		return "sendPhoto", (*botAPI).sendPhoto
	case "senddocument":
		return "sendDocument", (*botAPI).sendDocument
	case "sendmediagroup":
		return "sendMediaGroup", (*botAPI).sendMediaGroup
	case "sendchataction":
		return "sendChatAction", (*botAPI).sendChatAction
	case "getfile":
		return "getFile", (*botAPI).getFile
	case "setmycommands":
		return "setMyCommands", (*botAPI).setMyCommands
	case "getmycommands":
		return "getMyCommands", (*botAPI).getMyCommands
	case "setwebhook":
		return "setWebhook", (*botAPI).setWebhook
	case "deletewebhook":
		return "deleteWebhook", (*botAPI).deleteWebhook
	case "getwebhookinfo":
		return "getWebhookInfo", (*botAPI).getWebhookInfo
	case "getchat":
		return "getChat", (*botAPI).getChat
	case "getchatmember":
		return "getChatMember", (*botAPI).getChatMember
	case "createforumtopic":
		return "createForumTopic", (*botAPI).createForumTopic
	}
	return method, nil
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		writeError(w, &apiError{code: http.StatusServiceUnavailable, desc: "Service Unavailable"})
		return
	}
	defer s.inflight.Done()

	if rest, ok := strings.CutPrefix(r.URL.Path, "/file/bot"); ok {
		s.serveFile(w, rest)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	if !ok {
		writeError(w, notFound())
		return
	}
	token, method, _ := strings.Cut(rest, "/")
	name, fn := route(method)

	s.mu.Lock()
	s.calls[name]++
	var wait time.Duration
	var fail *apiError
	drop := false
	if token == s.token && fn != nil {
		wait, fail, drop = s.takeFaultsLocked(name)
		if fail == nil && !drop {
			fail = s.chaosFailureLocked(name)
		}
	}
	s.changedLocked()
	s.mu.Unlock()
	if drop {
		s.notify()
		hangUp(w)
		return
	}

	var res json.RawMessage
	var aerr *apiError
	switch {
	case token != s.token:
		aerr = unauthorized()
	case fn == nil:
		aerr = notFound()
	case fail != nil:
		aerr = fail
	default:
		req, perr := parseRequest(w, r)
		if perr != nil {
			aerr = perr
			break
		}
		if r.MultipartForm != nil {
			defer func() { _ = r.MultipartForm.RemoveAll() }()
		}
		if aerr = s.refuse(name, req); aerr == nil {
			res, aerr = fn(&s.api, req)
		}
	}
	s.notify()

	// A delayed call that was not also made to fail has taken effect already; only its answer is
	// late, which is how a timed-out request looks from the bot's side on the real Telegram too.
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.done:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	// res is written untouched: forged updates must reach the bot exactly as the test wrote them.
	body := append(append([]byte(`{"ok":true,"result":`), res...), '}')
	writeJSON(w, http.StatusOK, body)
}

// hangUp closes the request's connection without a word, so that the client's HTTP call fails
// with a network error (EOF) rather than an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): an aborted handler resets the stream instead.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func parseRequest(w http.ResponseWriter, r *http.Request) (*request, *apiError) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	req := &request{ctx: r.Context()}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "multipart/form-data" {
		if err := r.ParseMultipartForm(maxMemory); err != nil {
			return nil, badRequest("can't parse multipart request: " + err.Error())
		}
		req.files = r.MultipartForm.File
	} else if err := r.ParseForm(); err != nil {
		return nil, badRequest("can't parse request: " + err.Error())
	}
	req.form = r.Form
	for _, vs := range req.form {
		for _, v := range vs {
			if !utf8.ValidString(v) {
				// Catches text cut in the middle of a multi-byte character.
				return nil, badRequest("strings must be encoded in UTF-8")
			}
		}
	}
	return req, nil
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.raw != nil {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(e.code)
		_, _ = w.Write(e.raw)
		return
	}
	body := map[string]any{"ok": false, "error_code": e.code, "description": e.desc}
	if e.retryAfter > 0 {
		body["parameters"] = map[string]int{"retry_after": e.retryAfter}
	}
	writeJSON(w, e.code, jsonOf(body))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) serveFile(w http.ResponseWriter, rest string) {
	token, path, _ := strings.Cut(rest, "/")
	if token != s.token {
		writeError(w, unauthorized())
		return
	}
	s.mu.Lock()
	f := s.paths[path]
	s.mu.Unlock()
	if f == nil {
		writeError(w, notFound())
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(f.data) // stored data is never modified, so reading it unlocked is safe
}
