"""The one catalogue of member-facing messages (plain Chinese), keyed by stable error code.

Templates use str.format with the error's details; a missing detail leaves the template's text as is.
Feature modules add their codes here (append to the dict, keep codes UPPER_SNAKE and stable).
"""
from __future__ import annotations

MESSAGES: dict[str, str] = {
    # --- generic input -----------------------------------------------------------------------------------
    "MALFORMED_JSON": "请求内容不是有效的 JSON,请检查后重试。",
    "VALIDATION_FAILED": "填写的信息有误:{field_label}。",
    "UNKNOWN_FIELD": "请求中包含无法识别的字段:{field}。",
    "MISSING_FIELD": "缺少必填项:{field}。",
    "BAD_QUERY_PARAMETER": "查询参数有误:{field}。",
    "IDEMPOTENCY_KEY_REQUIRED": "缺少 Idempotency-Key 请求头,请重新提交。",
    "IDEMPOTENCY_KEY_INVALID": "Idempotency-Key 格式不正确(8 至 64 位字母、数字或 -_)。",
    "IDEMPOTENCY_KEY_REUSED": "该请求编号已用于另一笔不同的请求,请勿重复使用。",
    "IDEMPOTENCY_IN_FLIGHT": "相同的请求正在处理中,请稍后查看结果。",
    "NOT_FOUND": "找不到您要访问的内容。",
    "ROUTE_NOT_FOUND": "接口不存在。",
    "INTERNAL_ERROR": "系统繁忙,请稍后再试。",
    "UPSTREAM_UNAVAILABLE": "{system}暂时无法访问,请稍后再试,本次操作未扣费。",
    # --- auth ---------------------------------------------------------------------------------------------
    "TOKEN_MISSING": "请先登录。",
    "TOKEN_INVALID": "登录已失效,请重新登录。",
    "TOKEN_EXPIRED": "登录已过期,请重新登录。",
    "FORBIDDEN": "您没有权限进行此操作。",
    "STAFF_ONLY": "该功能仅限经办人员使用。",
    "WECHAT_CODE_INVALID": "微信登录凭证无效或已过期,请重新进入小程序。",
    "PHONE_INVALID": "手机号格式不正确,请填写 11 位中国大陆手机号。",
    "SMS_TOO_FREQUENT": "验证码发送过于频繁,请 {retry_after} 秒后再试。",
    "SMS_CODE_WRONG": "验证码不正确,还可尝试 {attempts_left} 次。",
    "SMS_CODE_EXPIRED": "验证码已失效,请重新获取。",
    "SMS_CODE_LOCKED": "验证码错误次数过多已作废,请重新获取。",
    # --- identity -----------------------------------------------------------------------------------------
    "ID_NUMBER_INVALID": "身份证号码不正确:{reason}。",
    "NAME_INVALID": "姓名格式不正确。",
    "PERSON_NOT_FOUND_IN_PLATFORM": "医保系统中未查到该姓名与身份证号对应的参保信息,请核对后重试。",
    "IDENTITY_ALREADY_BOUND": "该身份证号已被其他账户实名绑定。如非本人操作,请联系客服。",
    "IDENTITY_REQUIRED": "请先完成实名认证。",
    "IDENTITY_ALREADY_SET": "本账户已实名为其他人,不能更换。",
    # --- plans --------------------------------------------------------------------------------------------
    "PLAN_NOT_FOUND": "找不到该保险方案:{plan_id}。",
    # --- access (services/access.py) ----------------------------------------------------------------------
    "POLICY_NOT_FOUND": "找不到该保单,或您无权查看。",
    # --- sandbox ----------------------------------------------------------------------------------------------
    # --- 医保 platform: messages of its refusal codes on the sandbox's HTTP face (key = "PLATFORM_" + code) ------
    "PLATFORM_PERSON_NOT_FOUND": "医保平台未查到该参保人。",
    "PLATFORM_NO_PERSONAL_ACCOUNT": "该参保人没有医保个人账户(仅职工医保有个人账户)。",
    "PLATFORM_INVALID_AMOUNT": "扣款或退款金额须为正整数(分)。",
    "PLATFORM_INSUFFICIENT_BALANCE": "医保个人账户余额不足。",
    "PLATFORM_IDEMPOTENCY_KEY_REUSED": "该请求编号已用于另一笔不同的扣款或退款。",
    "PLATFORM_DEDUCTION_NOT_FOUND": "医保平台未查到该笔扣款。",
    "PLATFORM_REFUND_EXCEEDS_DEDUCTION": "退款金额超过了原扣款的可退金额。",
    "PLATFORM_TIMEOUT": "医保平台响应超时,处理结果未知,请按请求编号查询后再处理。",
    "PLATFORM_SIGNATURE_INVALID": "医保平台接口签名校验失败:{reason}。",
    "PLATFORM_NOT_SIMULATED": "当前未使用模拟医保平台,沙箱无法操作。",
    "SANDBOX_RESIDENT_HAS_NO_ACCOUNT": "城乡居民医保没有个人账户,不能设置账户余额。",
    # --- family members & authorisations -----------------------------------------------------------------
    "MEMBER_NOT_FOUND": "找不到该家庭成员,请先在家庭成员中添加。",
    "MEMBER_IS_SELF": "这是您本人的身份证号,无需添加为家庭成员。",
    "MEMBER_ALREADY_ADDED": "该家庭成员已添加过,无需重复添加。",
    "FAMILY_MEMBER_LIMIT": "每个账户最多添加 {limit} 位家庭成员。",
    "AUTHORIZATION_NOT_FOUND": "找不到该授权,或您无权操作。",
    "AUTHORIZATION_SELF": "不能授权给自己登录使用的手机号。",
    "AUTHORIZATION_EXISTS": "您已授权给该手机号,如需调整授权范围,请先取消原授权再重新授权。",
    "SCOPES_DUPLICATED": "授权范围不能重复",
    # policies: reading and auto-renewal consent (services/policies.py; POLICY_CHANGED_RETRY is the orders section's)
    "POLICY_NOT_ACTIVE": "该保单已{status_zh},不能开启自动续保。",
    # --- eligibility & waiting periods -------------------------------------------------------------------
    "PLAN_NOT_OPEN": "该方案尚未开始参保,参保自 {window_start} 起开放。",
    "PLAN_CLOSED": "该方案参保已截止(截止日 {last_day})。",
    "NOT_IN_PLAN_CITY": "{who}未在{city_name}参加基本医疗保险,不能参保本方案。",
    "BASIC_TYPE_NOT_ADMITTED": "{who}参加的是{basic_type},{plan_name}不接受该险种人员参保。",
    "BASIC_INSURANCE_SUSPENDED": "{who}的基本医疗保险处于暂停(欠缴或中断)状态,请先补缴或恢复参保后再投保。",
    "EXCLUDED_PROGRAMME": "{who}已参加{programme},按规定不能重复参保本方案。",
    "BENEFITS_CANNOT_START": "{who}若现在参保,待遇将于 {benefit_start} 才开始,晚于本年度保障结束日 {coverage_end},本次不能参保,未扣费。",
    "PAYMENT_METHOD_NOT_OFFERED": "{plan_name}不支持{method}支付。",
    "NO_PERSONAL_ACCOUNT": "只有参加职工基本医疗保险的人员才有医保个人账户,请改用微信支付。",
    "PERSONAL_ACCOUNT_OTHER_CITY": "您的医保个人账户不在{city_name},不能用于本方案。",
    "RELATIONSHIP_NOT_ALLOWED": "医保个人账户历年结余不能为{who}({relationship})缴费,请改用微信支付。",
    # --- orders, payments, policies ----------------------------------------------------------------------
    # --- estimates -----------------------------------------------------------------------------------------
    "ESTIMATE_PLAN_REQUIRED": "请选择保险方案(plan_id)或保单(policy_id)。",
    "ESTIMATE_PLAN_MISMATCH": "保单 {policy_id} 属于方案 {policy_plan_id},与填写的方案 {plan_id} 不一致。",
    "ESTIMATE_YTD_WITH_POLICY": "按保单测算时使用保单的年度累计,请不要同时填写 year_to_date。",
    "ESTIMATE_POLICY_INACTIVE": "该保单已{status_zh},无法按保单测算;可以改按保险方案测算。",
    # Explanation lines of an estimate (benefits.py formats them with str.format; amounts are yuan to the fen).
    "ESTIMATE_CATEGORY_IN_POLICY_AFTER_CATASTROPHIC": "经基本医保和大病保险报销后的合规自负费用",
    "ESTIMATE_CATEGORY_IN_POLICY_BELOW_CATASTROPHIC": "大病保险起付线以下的合规费用",
    "ESTIMATE_CATEGORY_CLASS_B_PREPAY": "乙类先行自理费用",
    "ESTIMATE_CATEGORY_RESTRICTED": "超出医保目录限制或限价的费用",
    "ESTIMATE_CATEGORY_SELF_PAY": "自费药品和材料费用(负面清单外)",
    "ESTIMATE_CATEGORY_ADMISSION_LIST": "准入清单内项目费用",
    "ESTIMATE_CATEGORY_TRANSFER_OUT": "转外自理费用",
    "ESTIMATE_CATEGORY_NEGATIVE_LIST": "负面清单内费用",
    "ESTIMATE_SETTING_INPATIENT": "住院",
    "ESTIMATE_SETTING_OUTPATIENT": "普通门诊(含慢病门诊)",
    "ESTIMATE_SETTING_SPECIAL_OUTPATIENT": "特殊病种门诊",
    "ESTIMATE_REASON_SETTING": "本方案只保障{covered},{setting}费用不在保障范围内",
    "ESTIMATE_PERIOD_POLICY_START": "就诊日期 {day} 早于本保单待遇开始日 {start}",
    "ESTIMATE_PERIOD_POLICY_END": "就诊日期 {day} 晚于本保单保障结束日 {end}",
    "ESTIMATE_PERIOD_PLAN_START": "就诊日期 {day} 早于本方案保障开始日 {start}",
    "ESTIMATE_PERIOD_PLAN_END": "就诊日期 {day} 晚于本方案保障结束日 {end}",
    "ESTIMATE_PERIOD_OPEN_END": "目前",
    "ESTIMATE_REASON_EXCLUDED_PERIOD": "就诊日期 {day} 处于{reason}期间({start} 至 {end})",
    "ESTIMATE_EXCLUDED_BASIC_SUSPENDED": "基本医疗保险中断(欠缴或停保)",
    "ESTIMATE_EXCLUDED_BASIC_RESTORED_WAITING": "基本医疗保险恢复后的等待期",
    "ESTIMATE_LINE_BILL_NOT_COVERED": "{reason},本次费用 {total} 元不予报销",
    "ESTIMATE_LINE_NEGATIVE_LIST": "{label} {amount} 元不予报销",
    "ESTIMATE_LINE_BELOW_CATASTROPHIC": "{label} {amount} 元不在本方案报销范围",
    "ESTIMATE_LINE_CATEGORY_NOT_COVERED": "{label} {amount} 元不在本方案保障范围",
    "ESTIMATE_DEDUCTIBLE_APPLIES": "先扣除起付线",
    "ESTIMATE_NO_DEDUCTIBLE": "不设起付线",
    "ESTIMATE_LINE_COUNTED": "{label} {amount} 元计入报销范围,{suffix}",
    "ESTIMATE_LINE_COUNTED_FACTOR": "{label} {amount} 元按 {factor} 计入,为 {covered} 元,{suffix}",
    "ESTIMATE_LINE_DEDUCTIBLE_MET": "本次使用起付线 {used} 元,本年度起付线已用满",
    "ESTIMATE_LINE_DEDUCTIBLE_LEFT": "本次使用起付线 {used} 元,本年度起付线还剩 {left} 元",
    "ESTIMATE_LINE_DEDUCTIBLE_ALREADY_MET": "本年度起付线 {deductible} 元此前已用满,本次不再扣除",
    "ESTIMATE_LINE_ELIGIBLE": "扣除起付线后可报销金额 {eligible} 元,本年度累计可报销金额 {cumulative} 元",
    "ESTIMATE_TIER_ALL": "可报销金额",
    "ESTIMATE_TIER_UP_TO": "累计 0 至 {upper} 元部分",
    "ESTIMATE_TIER_BETWEEN": "累计 {lower} 至 {upper} 元部分",
    "ESTIMATE_TIER_ABOVE": "累计超过 {lower} 元部分",
    "ESTIMATE_LINE_TIER": "{tier}:{amount} 元 × {ratio} = {paid} 元",
    "ESTIMATE_LINE_ROUNDING": "各段合计按分四舍五入,尾差调整 {adjustment} 元,合计 {payout} 元",
    "ESTIMATE_LINE_CAP": "年度最高赔付限额 {cap} 元(本年度此前已赔付 {paid_before} 元),本次赔付由 {before} 元调整为 {payout} 元",
    "ESTIMATE_LINE_PAYOUT": "本次预计赔付 {payout} 元",
    "ESTIMATE_NOTE_ESTIMATE": "以上为按结算单金额和方案规则的测算,实际赔付以保险公司审核和医保结算单为准。",
    "ESTIMATE_NOTE_WHAT_IF": "年度累计按您填写的数值测算。",
    "ESTIMATE_NOTE_POLICY": "已按本保单的待遇期间({start} 至 {end})和截至目前已赔付的年度累计测算。",
    "ESTIMATE_NOTE_PLAN_PERIOD": "未指定保单,按方案保障期间({start} 至 {end})测算;实际待遇开始日以保单为准。",
    "ESTIMATE_NOTE_SUSPENSIONS_UNKNOWN": "暂时无法向医保系统核实基本医保是否中断,测算未考虑中断期间。",
    # --- claims ---------------------------------------------------------------------------------------------
    # --- disclosure ----------------------------------------------------------------------------------------
}


class _Default(dict):
    def __missing__(self, key: str) -> str:  # leave unknown placeholders readable
        return "{" + key + "}"


def message_for(code: str, **details: object) -> str:
    template = MESSAGES.get(code)
    if template is None:
        return f"请求未能完成({code})。"
    return template.format_map(_Default(details))


# Chinese labels for request fields, used in VALIDATION_FAILED messages so a member knows what to fix.
FIELD_LABELS: dict[str, str] = {
    "name": "姓名",
    "id_number": "身份证号",
    "phone": "手机号",
    "code": "验证码",
    "relationship": "与本人关系",
    "plan_id": "保险方案",
    "insured": "被保险人",
    "payment_method": "支付方式",
    "auto_renew": "自动续保",
    "bills": "费用明细",
    "service_date": "就诊日期",
    "setting": "就诊类型",
    "policy_id": "保单",
    "payee": "收款账户",
    "account_number": "银行账号",
    "account_name": "户名",
    "bank_name": "开户行",
    "grantee_phone": "被授权人手机号",
    "scopes": "授权范围",
    "kind": "材料类型",
    "content_type": "文件类型",
    "size_bytes": "文件大小",
    "decision": "审核结论",
    "reason": "原因",
    "enabled": "开关",
    "year_to_date": "年度累计",
    "now": "时间",
    "role": "角色",
}
