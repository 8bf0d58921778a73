package refund

// Reason is why a buyer asks for a refund. The set offered depends on the
// order's category.
type Reason string

// The refund reasons a buyer can choose.
const (
	ReasonInvalidCode      Reason = "invalid_code"      // 卡密无效/已被使用
	ReasonWrongValue       Reason = "wrong_value"       // 面值不符
	ReasonNotDelivered     Reason = "not_delivered"     // 未发货/超时未发货
	ReasonDuplicateCharge  Reason = "duplicate_charge"  // 重复扣款
	ReasonMistakenPurchase Reason = "mistaken_purchase" // 误购
	ReasonNotArrived       Reason = "not_arrived"       // 充值未到账
	ReasonWrongAccount     Reason = "wrong_account"     // 充错账号
	ReasonNotActivated     Reason = "not_activated"     // 会员未生效
	ReasonActivationFailed Reason = "activation_failed" // 激活失败
	ReasonNotAsDescribed   Reason = "not_as_described"  // 描述不符
	ReasonSystemFault      Reason = "system_fault"      // 系统故障
	ReasonNoLongerWanted   Reason = "no_longer_wanted"  // 不想要了
	ReasonServiceNotDone   Reason = "service_not_done"  // 服务未完成
	ReasonDamaged          Reason = "damaged"           // 商品损坏
)

// ReasonsFor returns the reasons that fit a category, in the order the
// dialog offers them.
func ReasonsFor(c Category) []Reason {
	switch c {
	case CategoryGameCard:
		return []Reason{ReasonInvalidCode, ReasonWrongValue, ReasonNotDelivered, ReasonDuplicateCharge, ReasonMistakenPurchase}
	case CategoryTopup:
		return []Reason{ReasonNotArrived, ReasonWrongValue, ReasonDuplicateCharge, ReasonWrongAccount, ReasonMistakenPurchase}
	case CategoryMembership:
		return []Reason{ReasonNotActivated, ReasonNotAsDescribed, ReasonDuplicateCharge, ReasonNoLongerWanted, ReasonMistakenPurchase}
	case CategorySoftwareKey:
		return []Reason{ReasonActivationFailed, ReasonInvalidCode, ReasonNotDelivered, ReasonDuplicateCharge, ReasonMistakenPurchase}
	case CategoryService:
		return []Reason{ReasonServiceNotDone, ReasonNotAsDescribed, ReasonDuplicateCharge, ReasonNoLongerWanted}
	case CategoryPhysical:
		return []Reason{ReasonNotDelivered, ReasonDamaged, ReasonNotAsDescribed, ReasonDuplicateCharge, ReasonNoLongerWanted}
	}
	return nil
}

// AllReasons returns every reason, for validation and locale checks.
func AllReasons() []Reason {
	return []Reason{ReasonInvalidCode, ReasonWrongValue, ReasonNotDelivered, ReasonDuplicateCharge,
		ReasonMistakenPurchase, ReasonNotArrived, ReasonWrongAccount, ReasonNotActivated,
		ReasonActivationFailed, ReasonNotAsDescribed, ReasonSystemFault, ReasonNoLongerWanted,
		ReasonServiceNotDone, ReasonDamaged}
}

// Fits reports whether r is offered for category c.
func (r Reason) Fits(c Category) bool {
	for _, k := range ReasonsFor(c) {
		if k == r {
			return true
		}
	}
	return false
}
