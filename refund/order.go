package refund

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Category is the kind of digital good an order is for; policies and dialog
// choices depend on it.
type Category string

// The categories a shop can sell.
const (
	CategoryGameCard    Category = "game_card"
	CategoryTopup       Category = "topup"
	CategoryMembership  Category = "membership"
	CategorySoftwareKey Category = "software_key"
	CategoryService     Category = "service"
	CategoryPhysical    Category = "physical"
)

// Categories returns every valid category, in display order.
func Categories() []Category {
	return []Category{CategoryGameCard, CategoryTopup, CategoryMembership, CategorySoftwareKey, CategoryService, CategoryPhysical}
}

// Valid reports whether c is a known category.
func (c Category) Valid() bool {
	switch c {
	case CategoryGameCard, CategoryTopup, CategoryMembership, CategorySoftwareKey, CategoryService, CategoryPhysical:
		return true
	}
	return false
}

// PaymentMethod is how the buyer paid; payouts go back the same way.
type PaymentMethod string

// The payment methods a shop accepts.
const (
	PayAlipay   PaymentMethod = "alipay"
	PayWechat   PaymentMethod = "wechat"
	PayBankCard PaymentMethod = "bank_card"
	PayBalance  PaymentMethod = "balance"
)

// Valid reports whether p is a known payment method.
func (p PaymentMethod) Valid() bool {
	switch p {
	case PayAlipay, PayWechat, PayBankCard, PayBalance:
		return true
	}
	return false
}

// Order is a purchase as the shop reported it.
type Order struct {
	ID string
	// BuyerTelegramID is the Telegram user the shop bound the order to; 0
	// means unbound, and ownership must then be proven with the phone.
	BuyerTelegramID int64
	ContactPhone    string
	Product         string
	Category        Category
	AmountPaid      Money
	ListPrice       Money
	Currency        string
	PaymentMethod   PaymentMethod
	PurchasedAt     time.Time
	// DeliveredAt is zero when the goods were never delivered.
	DeliveredAt time.Time
	// Used means the goods were redeemed, activated or consumed in full: a
	// card's code redeemed, a key activated.
	Used bool
	// Usage tells how much of a membership, top-up or service was used, for
	// pro-rata refunds.
	Usage Usage
	// GiftValue is what a promotion gave away with the order; unless
	// GiftReturned, a refund deducts it.
	GiftValue    Money
	GiftReturned bool
	UpdatedAt    time.Time
}

// Usage is the shop's report of partial use. Each field applies to one
// category; zero means nothing was used.
type Usage struct {
	// TermDays and ActivatedAt describe a membership: a started day counts
	// as used.
	TermDays    int
	ActivatedAt time.Time
	// ConsumedValue is how much of a top-up's face value (its list price)
	// the buyer already spent.
	ConsumedValue Money
	// ProgressPercent is the share of a service already done, 0-100.
	ProgressPercent int
}

// MaxTermDays bounds a membership term (ten years) so that day arithmetic
// stays sane.
const MaxTermDays = 3660

// MaxOrderIDLength bounds order IDs so that they fit keys and callback data.
const MaxOrderIDLength = 40

// NormalizeOrderID upper-cases and trims an order ID as typed by a buyer.
func NormalizeOrderID(id string) string {
	return strings.ToUpper(strings.TrimSpace(id))
}

// ValidOrderID reports whether id is usable as an order ID: 1 to
// MaxOrderIDLength ASCII letters, digits, '-' or '_'.
func ValidOrderID(id string) bool {
	if id == "" || len(id) > MaxOrderIDLength {
		return false
	}
	for _, r := range id {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Validate checks an order as received from the shop and returns an
// EINVALID error naming the first bad field.
func (o Order) Validate() error {
	switch {
	case !ValidOrderID(o.ID):
		return FieldError("id", "id must be 1-%d letters, digits, '-' or '_'", MaxOrderIDLength)
	case o.BuyerTelegramID < 0:
		return FieldError("buyer_telegram_id", "buyer_telegram_id must be a positive Telegram user id")
	case len(phoneDigits(o.ContactPhone)) < 4:
		return FieldError("contact_phone", "contact_phone must contain at least 4 digits")
	case strings.TrimSpace(o.Product) == "" || utf8.RuneCountInString(o.Product) > 200:
		return FieldError("product", "product must be 1-200 characters")
	case !o.Category.Valid():
		return FieldError("category", "category must be one of game_card, topup, membership, software_key, service, physical")
	case o.AmountPaid < 0:
		return FieldError("amount_paid", "amount_paid must not be negative")
	case o.ListPrice < 0:
		return FieldError("list_price", "list_price must not be negative")
	case len(o.Currency) != 3 || strings.ToUpper(o.Currency) != o.Currency:
		return FieldError("currency", "currency must be a 3-letter ISO code such as CNY")
	case !o.PaymentMethod.Valid():
		return FieldError("payment_method", "payment_method must be one of alipay, wechat, bank_card, balance")
	case o.PurchasedAt.IsZero():
		return FieldError("purchased_at", "purchased_at is required")
	case !o.DeliveredAt.IsZero() && o.DeliveredAt.Before(o.PurchasedAt):
		return FieldError("delivered_at", "delivered_at must not be before purchased_at")
	case o.Usage.TermDays < 0 || o.Usage.TermDays > MaxTermDays:
		return FieldError("term_days", "term_days must be 0-%d", MaxTermDays)
	case !o.Usage.ActivatedAt.IsZero() && o.Usage.ActivatedAt.Before(o.PurchasedAt):
		return FieldError("activated_at", "activated_at must not be before purchased_at")
	case o.Usage.ConsumedValue < 0:
		return FieldError("consumed_value", "consumed_value must not be negative")
	case o.Usage.ProgressPercent < 0 || o.Usage.ProgressPercent > 100:
		return FieldError("progress_percent", "progress_percent must be 0-100")
	case o.GiftValue < 0:
		return FieldError("gift_value", "gift_value must not be negative")
	}
	return nil
}

// BoundTo reports whether the shop bound the order to this Telegram user.
func (o Order) BoundTo(telegramUserID int64) bool {
	return o.BuyerTelegramID != 0 && o.BuyerTelegramID == telegramUserID
}

// PhoneLast4Matches reports whether digits are the last four digits of the
// order's contact phone.
func (o Order) PhoneLast4Matches(digits string) bool {
	d := phoneDigits(o.ContactPhone)
	digits = strings.TrimSpace(digits)
	return len(d) >= 4 && len(digits) == 4 && d[len(d)-4:] == digits
}

func phoneDigits(phone string) string {
	var b strings.Builder
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
