// Small DOM helpers, money in fen, the page's Chinese labels, and errors shown next to the field they name.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function mount(...nodes) {
  const view = document.getElementById('view');
  view.replaceChildren(...nodes.flat());
  return view;
}

// Each screen starts with `const mount = screenMount()`: once the person has moved on to another screen, a slow
// answer for the old one can no longer paint over the new one.
let screenSeq = 0;
export function screenMount() {
  const mine = ++screenSeq;
  return (...nodes) => (mine === screenSeq ? mount(...nodes) : document.createElement('div'));
}

// ---- money: integer fen, never floats --------------------------------------------------------------------------
export function yuan(fen) {
  const n = BigInt(fen);
  const sign = n < 0n ? '-' : '';
  const abs = n < 0n ? -n : n;
  const whole = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const cents = (abs % 100n).toString().padStart(2, '0');
  return `${sign}${whole}.${cents} 元`;
}

// "30000" / "30,000.5" / "30000.50" yuan → fen (integer); null for empty, NaN for malformed.
export function toFen(text) {
  const t = String(text ?? '').replace(/[,,\s]/g, '');
  if (t === '') return null;
  const m = /^(\d{1,10})(?:\.(\d{1,2}))?$/.exec(t);
  if (!m) return NaN;
  return Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
}

// ---- words ---------------------------------------------------------------------------------------------------
export const SETTINGS = { inpatient: '住院', outpatient: '门诊(含慢病门诊)', special_outpatient: '特殊病种门诊' };
export const CATEGORIES = [
  ['in_policy_after_catastrophic_fen', '医保目录内自付(经基本医保、大病保险报销后)', true],
  ['self_pay_fen', '目录外自费药品与材料', true],
  ['class_b_prepay_fen', '乙类先行自付', true],
  ['in_policy_below_catastrophic_fen', '大病保险起付线以下的目录内自付', false],
  ['restricted_fen', '超限制范围(限价、限适应症)', false],
  ['admission_list_fen', '准入清单内项目', false],
  ['transfer_out_fen', '转外就医自理', false],
  ['negative_list_fen', '负面清单项目(不予报销)', false],
];
export const WAITING_RULES = {
  in_window: '在集中参保期内缴费:自保障开始之日起享受待遇,无等待期。',
  first_year_grace: '首年宽限期内缴费:自缴费次日起享受待遇。',
  late_six_months: '参保期截止后缴费:等待期 6 个月,自缴费之日起满 6 个月后享受待遇。',
  life_event: '新生儿、退役、迁入等特殊情形:自基本医保待遇开始之日起享受,不早于保障开始日。',
  basic_restored: '基本医保中断后恢复:自恢复之日起满 6 个月后享受待遇。',
  renewal: '连续参保(续保):自保障开始之日起享受待遇,无等待期。',
};
export const PLAN_STATUS = { open: ['在售', 'ok'], upcoming: ['即将开售', 'warn'], closed: ['已停售', ''] };
export const POLICY_STATUS = { active: '保障中', issued: '已生效', cancelled: '已退保', refunded: '已退款', expired: '已到期' };
export const RELATIONSHIPS = { self: '本人', spouse: '配偶', child: '子女', parent: '父母', sibling: '兄弟姐妹',
  grandparent: '(外)祖父母', grandchild: '(外)孙子女', other: '其他' };
export const PAYMENT_METHODS = { personal_account: '医保个人账户', wechat_pay: '微信支付' };
export const DOCUMENT_KINDS = {
  id_card: '被保险人身份证', invoice: '医疗费用发票', settlement_slip: '医保结算单', expense_list: '费用清单',
  discharge_summary: '出院小结(住院)', outpatient_record: '门诊病历(门诊)', bank_card: '收款银行卡',
  proxy_id: '代办人身份证(亲友代办)', authorization: '授权书(亲友代办;在线授权可代替)',
};
export const ORDER_STATUS = { pending_payment: '待支付', settling: '处理中', paid: '已支付', failed: '失败',
  refund_pending: '退款中', refunded: '已退款', refund_failed: '退款失败' };

export const date = (iso) => (iso ? String(iso).slice(0, 10) : '—');
export const dateTime = (iso) => (iso ? String(iso).slice(0, 16).replace('T', ' ') : '—');

// ---- forms and errors ----------------------------------------------------------------------------------------
let uid = 0;
// A real <label> tied to its control, a hint, and the slot where the API's message for this field appears.
export function field(labelText, control, { hint, name } = {}) {
  const id = control.id || `f${++uid}`;
  control.id = id;
  if (name) { control.dataset.field = name; if (!control.getAttribute('name')) control.setAttribute('name', name); }
  const err = h('p', { class: 'field-error', id: id + '-err', role: 'alert' });
  control.setAttribute('aria-describedby', id + '-err');
  return h('div', { class: 'field' },
    h('label', { for: id }, labelText, hint ? h('span', { class: 'hint' }, hint) : null), control, err);
}

export function clearErrors(form) {
  form.querySelectorAll('.field-error').forEach((e) => { e.textContent = ''; });
  form.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
  const top = form.querySelector('.form-error');
  if (top) top.textContent = '';
}

// Put the API's Chinese message beside the control whose data-field matches details.field (the full path first,
// then its last segment: "bills.0.self_pay_fen" → "self_pay_fen", then its first), else at the top of the form.
export function showError(form, err) {
  const path = err.field || '';
  const candidates = [path, path.split('.').pop(), path.split('.')[0]].filter(Boolean); // insured.1 → insured
  let control = null;
  for (const c of candidates) {
    control = form.querySelector(`[data-field="${CSS.escape(c)}"]`);
    if (control) break;
  }
  if (control) {
    control.setAttribute('aria-invalid', 'true');
    const slot = document.getElementById(control.id + '-err');
    if (slot) slot.textContent = err.message;
    control.focus({ preventScroll: false });
  } else {
    let top = form.querySelector('.form-error');
    if (!top) { top = h('p', { class: 'form-error', role: 'alert' }); form.append(top); }
    top.textContent = err.message;
  }
}

// Submit handler wrapper: clear errors, disable the button while the call runs, show any error where it belongs.
export function onSubmit(form, fn) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    try {
      await fn(new FormData(form));
    } catch (err) {
      if (err && err.message) showError(form, err); else throw err;
    } finally {
      if (button && button.isConnected) button.disabled = false;
    }
  });
  return form;
}

export function localError(field, message) {
  return { field, message };
}

export function backLink(href = '#/', text = '‹ 返回首页') {
  return h('a', { class: 'back', href }, text);
}
