package bot

import (
	"testing"

	"github.com/refundbot/refundbot/flows"
)

// FuzzWebhookUpdate feeds arbitrary request bodies to what the webhook does
// with them before the dialog sees them: decoding (twice, for the forum
// fields) and turning the update into an input. Nothing may panic, and an
// input always names its chat and its update.
func FuzzWebhookUpdate(f *testing.F) {
	for _, seed := range []string{
		`{"update_id":1,"message":{"message_id":1,"date":1,"text":"/status KM1","chat":{"id":5,"type":"private"},"from":{"id":5}}}`,
		`{"update_id":2,"callback_query":{"id":"q","data":"s:abc:1","from":{"id":5},"message":{"message_id":3,"chat":{"id":5,"type":"private"}}}}`,
		`{"update_id":3,"message":{"message_id":1,"date":1,"message_thread_id":7,"is_topic_message":true,"text":"hi","chat":{"id":-100,"type":"supergroup"},"from":{"id":9},"reply_to_message":{"forum_topic_created":{}}}}`,
		`{"update_id":4,"message":{"message_id":1,"date":1,"photo":[{"file_id":"a","file_unique_id":"u"}],"media_group_id":"g","chat":{"id":5,"type":"private"},"from":{"id":5}}}`,
		`{"update_id":5,"message":{"message_id":1,"text":"/start@bot x","entities":[{"type":"bot_command","offset":0,"length":99}],"chat":{"id":5,"type":"private"},"from":{"id":5}}}`,
		`{"update_id":6,"edited_message":{}}`, `{}`, `[]`, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := decodeUpdate(body)
		if err != nil {
			return
		}
		it, ok := toInput(u)
		if !ok {
			return
		}
		if len(it.in.UpdateIDs) != 1 || it.in.UpdateIDs[0] != u.UpdateID {
			t.Fatalf("input of update %d names updates %v", u.UpdateID, it.in.UpdateIDs)
		}
		_ = inputKind(it.in)
	})
}

// FuzzKeyboardJSON checks the hand-written keyboard encoding against
// json.Marshal's for any button texts, data and URLs: both must decode to
// the same keyboard.
func FuzzKeyboardJSON(f *testing.F) {
	f.Add("Yes", "c:yes", "", "原路", "")
	f.Add("say \"hi\"\n", "\\", "https://x.example/?a=<1>&b=2", "\x00\t", "\xff")
	f.Add("👍🏽\u2028", "", "", "", "https://t.me/shop")
	f.Fuzz(func(t *testing.T, text1, data1, url1, text2, url2 string) {
		checkKeyboardJSON(t, [][]flows.Button{
			{{Text: text1, Data: data1, URL: url1}, {Text: text2, URL: url2}},
			{},
			{{Text: text2, Data: text1}},
		})
	})
}
