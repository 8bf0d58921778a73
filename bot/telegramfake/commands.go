package telegramfake

import (
	"encoding/json"
	"fmt"
	"strings"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// setMyCommands and getMyCommands: the command lists per scope and
// language.

// commandsKey identifies a command list as Telegram does: by scope and language.
func commandsKey(scope tgbotapi.BotCommandScope, languageCode string) string {
	if scope.Type == "" {
		scope.Type = "default"
	}
	return fmt.Sprintf("%s/%d/%d/%s", scope.Type, scope.ChatID, scope.UserID, languageCode)
}

func commandsKeyOf(r *request) (string, *apiError) {
	var scope tgbotapi.BotCommandScope
	if raw := r.str("scope"); raw != "" && raw != "null" {
		if err := json.Unmarshal([]byte(raw), &scope); err != nil {
			return "", badRequest("can't parse BotCommandScope JSON object")
		}
	}
	return commandsKey(scope, r.str("language_code")), nil
}

func (s *botAPI) setMyCommands(r *request) (json.RawMessage, *apiError) {
	var cmds []tgbotapi.BotCommand
	if err := json.Unmarshal([]byte(r.str("commands")), &cmds); err != nil {
		return nil, badRequest("can't parse commands JSON object")
	}
	for _, c := range cmds {
		// Telegram wants 1-32 lowercase Latin letters, digits and underscores.
		if c.Command == "" || len(c.Command) > 32 || wordLen(c.Command) != len(c.Command) || strings.ToLower(c.Command) != c.Command {
			return nil, badRequest("BOT_COMMAND_INVALID")
		}
	}
	key, aerr := commandsKeyOf(r)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commands[key] = cmds
	s.changedLocked()
	return jsonTrue(), nil
}

func (s *botAPI) getMyCommands(r *request) (json.RawMessage, *apiError) {
	key, aerr := commandsKeyOf(r)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return jsonOf(append([]tgbotapi.BotCommand{}, s.commands[key]...)), nil
}
