package locales

import "github.com/refundbot/refundbot/refund"

// Key names one text. Static keys are constants; keys that depend on a
// domain value (a reason, a category, a status) are built by the functions
// below, so that a value never shown to a buyer cannot be forgotten.
type Key string

// The static texts.
const (
	Greeting           Key = "greeting"
	ScamWarning        Key = "scam_warning"
	Help               Key = "help"
	BtnRefund          Key = "btn.refund"
	BtnStatus          Key = "btn.status"
	BtnBack            Key = "btn.back"
	BtnCancel          Key = "btn.cancel"
	BtnUseDraft        Key = "btn.use_draft"
	BtnKeepStatement   Key = "btn.keep_statement"
	BtnDone            Key = "btn.done"
	BtnSubmit          Key = "btn.submit"
	BtnEdit            Key = "btn.edit"
	BtnEditReason      Key = "btn.edit_reason"
	BtnEditStatement   Key = "btn.edit_statement"
	BtnEditEvidence    Key = "btn.edit_evidence"
	BtnStartRefund     Key = "btn.start_refund"
	BtnOpenPrivate     Key = "btn.open_private"
	AskOrderID         Key = "ask_order_id"
	OrderIDInvalid     Key = "order_id_invalid"
	AskPhone           Key = "ask_phone"
	PhoneFormat        Key = "phone_format"
	OwnershipFailed    Key = "ownership_failed"
	OwnershipLocked    Key = "ownership_locked"
	AskReason          Key = "ask_reason"
	ReasonDetected     Key = "reason_detected"
	DraftStatement     Key = "draft_statement"
	AskStatement       Key = "ask_statement"
	StatementTooLong   Key = "statement_too_long"
	StatementScam      Key = "statement_scam"
	AskEvidence        Key = "ask_evidence"
	EvidenceReceived   Key = "evidence_received"
	EvidenceFull       Key = "evidence_full"
	EvidenceDuplicate  Key = "evidence_duplicate"
	EvidenceWantFile   Key = "evidence_want_file"
	EvidenceNoneNotice Key = "evidence_none_notice"
	Summary            Key = "summary"
	EditWhat           Key = "edit_what"
	Submitted          Key = "submitted"
	SubmitRetry        Key = "submit_retry"
	CaseExists         Key = "case_exists"
	Cancelled          Key = "cancelled"
	NothingToCancel    Key = "nothing_to_cancel"
	SessionExpired     Key = "session_expired"
	StaleButton        Key = "stale_button"
	InvalidButton      Key = "invalid_button"
	WantText           Key = "want_text"
	FileNotNow         Key = "file_not_now"
	TextTooLong        Key = "text_too_long"
	UnknownCommand     Key = "unknown_command"
	UnknownText        Key = "unknown_text"
	GroupPrivateOnly   Key = "group_private_only"
	StatusAsk          Key = "status_ask"
	StatusNotFound     Key = "status_not_found"
	StatusCase         Key = "status_case"
	StatusNoCase       Key = "status_no_case"
	InternalError      Key = "internal_error"
	// Postponed tells a buyer that their message arrived while a server
	// the bot needs was out, and will be handled when it is back.
	Postponed Key = "postponed"
	// PersonStepKept tells a buyer who asked for a person in the middle of
	// a request that the request is kept.
	PersonStepKept Key = "person_step_kept"
	// Flooded tells a buyer sending far too fast that the bot stops
	// reading for a minute.
	Flooded        Key = "flooded"
	LangSet        Key = "lang_set"
	LangUsage      Key = "lang_usage"
	DateLayout     Key = "layout.date"
	DateTimeLayout Key = "layout.datetime"
	RequestFull    Key = "request.full"

	// The refund core's notices and the follow-up steps.
	NoticeHeader          Key = "notice.header"
	NoticeReminder        Key = "notice.reminder"
	NoticeAwaitRoute      Key = "notice.await_route"
	NoticeRefundedBalance Key = "notice.refunded_balance"
	NoticeClosedNoAppeal  Key = "notice.closed_no_appeal"
	ReviewerNote          Key = "notice.reviewer_note"
	BtnAddInfo            Key = "btn.add_info"
	BtnAppeal             Key = "btn.appeal"
	BtnNewAccount         Key = "btn.new_account"
	BtnRouteOriginal      Key = "btn.route_original"
	BtnRouteBalance       Key = "btn.route_balance"
	BtnSubmitAppeal       Key = "btn.submit_appeal"
	RouteChosen           Key = "route_chosen"
	FinishCurrentFirst    Key = "finish_current_first"
	CaseMoved             Key = "case_moved"
	ActionClosed          Key = "action_closed"
	FollowUpInvalid       Key = "follow_up_invalid"
	FollowUpSent          Key = "follow_up_sent"
	AppealNoted           Key = "appeal_noted"
	AppealEmpty           Key = "appeal_empty"
	AskMoreEvidence       Key = "ask_more_evidence"
	AskAppeal             Key = "ask_appeal"
	AskAccount            Key = "ask_account"
	TimelineHeader        Key = "timeline.header"
	DecisionHeader        Key = "decision.header"

	// The agents' desk and escalations.
	DeskUnsupported      Key = "desk.unsupported"
	DeskFromBuyer        Key = "desk.from_buyer"
	NoAgents             Key = "no_agents"
	QueuedForAgent       Key = "queued_for_agent"
	DeskScamFlag         Key = "desk.scam_flag"
	VerifyNotStaff       Key = "verify_not_staff"
	VerifyHidden         Key = "verify_hidden"
	VerifyUsage          Key = "verify_usage"
	VerifyStaff          Key = "verify_staff"
	DeskCardHeader       Key = "desk.card_header"
	DeskCardCase         Key = "desk.card_case"
	DeskCardSaid         Key = "desk.card_said"
	DeskCardDue          Key = "desk.card_due"
	BtnDeskTake          Key = "btn.desk_take"
	BtnDeskApprove       Key = "btn.desk_approve"
	BtnDeskReject        Key = "btn.desk_reject"
	BtnDeskInfo          Key = "btn.desk_info"
	DeskNotAgent         Key = "desk.not_agent"
	DeskReplyToCard      Key = "desk.reply_to_card"
	DeskApproveUsage     Key = "desk.approve_usage"
	DeskNeedsReason      Key = "desk.needs_reason"
	DeskUnknownCommand   Key = "desk.unknown_command"
	DeskTaken            Key = "desk.taken"
	DeskTookOver         Key = "desk.took_over"
	AgentJoined          Key = "agent_joined"
	DeskClosed           Key = "desk.closed"
	DeskTakenBy          Key = "desk.taken_by"
	DeskNotHolder        Key = "desk.not_holder"
	DeskReleased         Key = "desk.released"
	AgentLeft            Key = "agent_left"
	DeskTakeFirst        Key = "desk.take_first"
	DeskHeldBack         Key = "desk.held_back"
	AgentSays            Key = "agent_says"
	DeskCannotRelay      Key = "desk.cannot_relay"
	DeskBuyerUnreachable Key = "desk.buyer_unreachable"
	DeskNoCase           Key = "desk.no_case"
	DeskCaseMoved        Key = "desk.case_moved"
	DeskInvalid          Key = "desk.invalid"
	DeskDecided          Key = "desk.decided"
	DeskNoted            Key = "desk.noted"
	DeskQueueHeader      Key = "desk.queue_header"
	DeskQueued           Key = "desk.queued"
	DeskHeldBy           Key = "desk.held_by"
	DeskQueueEmpty       Key = "desk.queue_empty"
	DeskOverdue          Key = "desk.overdue"
	DeskHoldExpired      Key = "desk.hold_expired"
	VerifyImitation      Key = "verify_imitation"
	DeskAgentLeftTeam    Key = "desk.agent_left_team"
	DeskAgentBack        Key = "desk.agent_back"
	DeskTakeLeftTeam     Key = "desk.take_left_team"
	DeskFromBuyerPrivate Key = "desk.from_buyer_private"
	DeskPrivateHello     Key = "desk.private_hello"
	DeskPrivateWhich     Key = "desk.private_which"
	DeskPrivateTook      Key = "desk.private_took"
	DeskBoard            Key = "desk.board"
	DeskOnline           Key = "desk.online"
	DeskOffline          Key = "desk.offline"
	DeskNextNone         Key = "desk.next_none"
	DeskAssigned         Key = "desk.assigned"
	OutsideHours         Key = "outside_hours"
	OpensToday           Key = "opens.today"
	OpensTomorrow        Key = "opens.tomorrow"
	OpensLater           Key = "opens.later"
	Weekdays             Key = "weekdays"
	RateAsk              Key = "rate.ask"
	RateThanks           Key = "rate.thanks"
	RateAlready          Key = "rate.already"
	RateCommentAsk       Key = "rate.comment_ask"
	RateCommentThanks    Key = "rate.comment_thanks"
	RateCommentTooLong   Key = "rate.comment_too_long"
	RateCommentSkipped   Key = "rate.comment_skipped"
	BtnSkip              Key = "btn.skip"
	WaitingKept          Key = "waiting.kept"
	WaitingFull          Key = "waiting.full"
	DeskWaiting          Key = "desk.waiting"
)

// ReasonLabel is the button text of a reason.
func ReasonLabel(r refund.Reason) Key { return Key("reason." + string(r)) }

// ReasonEvent is the "event" part of a drafted statement for a reason.
func ReasonEvent(r refund.Reason) Key { return Key("event." + string(r)) }

// ReasonKeywords lists, separated by '|', words in a buyer's free text that
// name the reason.
func ReasonKeywords(r refund.Reason) Key { return Key("keywords." + string(r)) }

// CategoryLabel names a category.
func CategoryLabel(c refund.Category) Key { return Key("category." + string(c)) }

// EvidenceHint says what evidence a reason needs, or that none is.
func EvidenceHint(r refund.Reason) Key { return Key("evidence_hint." + string(r)) }

// The texts of understanding free text, per-reason evidence and the
// amounts below what was paid.
const (
	OrderIDLooksLikePhone Key = "order_id_looks_like_phone"
	AskEvidenceOptional   Key = "ask_evidence_optional"
	NoticeShortfall       Key = "notice.shortfall"
	NoticeShortfallOther  Key = "notice.shortfall_other"
)

// StatusLabel names a case status.
func StatusLabel(s refund.Status) Key { return Key("status." + string(s)) }

// StatusNext says what happens next in a status.
func StatusNext(s refund.Status) Key { return Key("next." + string(s)) }

// NoticeBody is the notice of a case reaching a status.
func NoticeBody(s refund.Status) Key { return Key("notice." + string(s)) }

// RuleText explains a policy rule behind a decision.
func RuleText(r refund.Rule) Key { return Key("rule." + string(r)) }

// MethodLabel names a payment method.
func MethodLabel(m refund.PaymentMethod) Key { return Key("method." + string(m)) }

// TimelineEvent names an event of a case's history in the status view.
func TimelineEvent(t refund.EventType) Key { return Key("timeline." + string(t)) }

// timelineEvents are the event types the status view names; status
// changes show the status, and dropped deadlines are not shown.
func timelineEvents() []refund.EventType {
	return []refund.EventType{refund.EventSubmitted, refund.EventEvidenceAdded, refund.EventReminder,
		refund.EventReviewOverdue, refund.EventRouteChosen, refund.EventRated}
}

// EscalationLabel names why a chat went to the agents.
func EscalationLabel(r refund.EscalationReason) Key { return Key("escalation." + string(r)) }

// escalationReasons lists every escalation reason.
func escalationReasons() []refund.EscalationReason {
	return []refund.EscalationReason{refund.EscalateHumanReview, refund.EscalateOverdue, refund.EscalateAsked,
		refund.EscalateRepeated, refund.EscalateFlagged}
}

// AllKeys lists every key the code can ask for; each language file must
// define exactly these.
func AllKeys() []Key {
	keys := []Key{Greeting, ScamWarning, Help, BtnRefund, BtnStatus, BtnBack, BtnCancel, BtnUseDraft,
		BtnKeepStatement, BtnDone, BtnSubmit, BtnEdit, BtnEditReason, BtnEditStatement, BtnEditEvidence,
		BtnStartRefund, BtnOpenPrivate, AskOrderID, OrderIDInvalid, AskPhone, PhoneFormat, OwnershipFailed,
		OwnershipLocked, AskReason, ReasonDetected, DraftStatement, AskStatement, StatementTooLong,
		StatementScam, AskEvidence, EvidenceReceived, EvidenceFull, EvidenceDuplicate, EvidenceWantFile,
		EvidenceNoneNotice, Summary, EditWhat, Submitted, SubmitRetry, CaseExists, Cancelled,
		NothingToCancel, SessionExpired, StaleButton, InvalidButton, WantText, FileNotNow, TextTooLong,
		UnknownCommand, UnknownText, GroupPrivateOnly, StatusAsk, StatusNotFound, StatusCase, StatusNoCase,
		InternalError, Postponed, PersonStepKept, Flooded, LangSet, LangUsage, DateLayout, DateTimeLayout, RequestFull,
		NoticeHeader, NoticeReminder, NoticeAwaitRoute, NoticeRefundedBalance, NoticeClosedNoAppeal, ReviewerNote,
		BtnAddInfo, BtnAppeal, BtnNewAccount, BtnRouteOriginal, BtnRouteBalance, BtnSubmitAppeal, RouteChosen,
		FinishCurrentFirst, CaseMoved, ActionClosed, FollowUpInvalid, FollowUpSent, AppealNoted, AppealEmpty,
		AskMoreEvidence, AskAppeal, AskAccount, TimelineHeader, DecisionHeader,
		DeskUnsupported, DeskFromBuyer, NoAgents, QueuedForAgent, DeskScamFlag, VerifyNotStaff, VerifyHidden, VerifyUsage, VerifyStaff, DeskCardHeader, DeskCardCase, DeskCardSaid, DeskCardDue, BtnDeskTake, BtnDeskApprove, BtnDeskReject, BtnDeskInfo, DeskNotAgent, DeskReplyToCard, DeskApproveUsage, DeskNeedsReason, DeskUnknownCommand, DeskTaken, DeskTookOver, AgentJoined, DeskClosed, DeskTakenBy, DeskNotHolder, DeskReleased, AgentLeft, DeskTakeFirst, DeskHeldBack, AgentSays, DeskCannotRelay, DeskBuyerUnreachable, DeskNoCase, DeskCaseMoved, DeskInvalid, DeskDecided, DeskNoted, DeskQueueHeader, DeskQueued, DeskHeldBy, DeskQueueEmpty, DeskOverdue, DeskHoldExpired,
		VerifyImitation, DeskAgentLeftTeam, DeskAgentBack, DeskTakeLeftTeam,
		DeskFromBuyerPrivate, DeskPrivateHello, DeskPrivateWhich, DeskPrivateTook, DeskBoard, DeskOnline, DeskOffline, DeskNextNone, DeskAssigned, OutsideHours, OpensToday, OpensTomorrow, OpensLater, Weekdays, RateAsk, RateThanks, RateAlready,
		RateCommentAsk, RateCommentThanks, RateCommentTooLong, RateCommentSkipped, BtnSkip, WaitingKept, WaitingFull, DeskWaiting}
	keys = append(keys, OrderIDLooksLikePhone, AskEvidenceOptional, NoticeShortfall, NoticeShortfallOther)
	for _, r := range refund.AllReasons() {
		keys = append(keys, ReasonLabel(r), ReasonEvent(r), ReasonKeywords(r), EvidenceHint(r))
	}
	for _, c := range refund.Categories() {
		keys = append(keys, CategoryLabel(c))
	}
	for _, s := range refund.Statuses() {
		keys = append(keys, StatusLabel(s), StatusNext(s), NoticeBody(s))
	}
	for _, r := range refund.Rules() {
		keys = append(keys, RuleText(r))
	}
	for _, m := range []refund.PaymentMethod{refund.PayAlipay, refund.PayWechat, refund.PayBankCard, refund.PayBalance} {
		keys = append(keys, MethodLabel(m))
	}
	for _, r := range escalationReasons() {
		keys = append(keys, EscalationLabel(r))
	}
	for _, e := range timelineEvents() {
		keys = append(keys, TimelineEvent(e))
	}
	return keys
}
