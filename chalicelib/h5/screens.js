// Screens: home, estimate, login, me (identity and family), plans and enrolment, policies.
import * as api from './api.js';
import {
  CATEGORIES, ORDER_STATUS, PAYMENT_METHODS, PLAN_STATUS, RELATIONSHIPS, SETTINGS, WAITING_RULES,
  backLink, clearErrors, date, field, h, localError, onSubmit, screenMount, showError, toFen, yuan,
} from './ui.js';

export const go = (hash) => { if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange')); else location.hash = hash; };

function needLogin(next) {
  if (api.session.token) return false;
  sessionStorage.setItem('hmb.next', next);
  go('#/login');
  return true;
}

function errorCard(err) {
  return h('div', { class: 'card' }, h('p', { class: 'form-error', role: 'alert' }, err.message));
}

function options(map, selected) {
  return Object.entries(map).map(([v, t]) => h('option', { value: v, selected: v === selected }, t));
}

// ---- home ----------------------------------------------------------------------------------------------------
export function home() {
  const mount = screenMount();
  mount(
    h('section', { class: 'card hero' },
      h('h1', {}, '城市惠民保'), h('p', {}, '政府指导、商业保险公司承保的城市补充医疗保险。看一看一笔医疗费能赔多少,为自己和家人一键参保。'),
      h('p', { class: 'muted elder-hide' }, '本页只与本服务的接口通信,不加载任何第三方内容。')),
    h('nav', { class: 'home-grid', 'aria-label': '我要办理' },
      h('a', { href: '#/estimate' }, '测一测能赔多少', h('span', {}, '按医保结算单估算,无需登录')),
      h('a', { href: '#/plans' }, '参保', h('span', {}, '本人与家人,医保个人账户或微信支付')),
      h('a', { href: '#/policies' }, '我的保单', h('span', {}, '待遇开始日、等待期、自动续保')),
      h('a', { href: '#/claims' }, '理赔', h('span', {}, '申请、补材料、看进度')),
      h('a', { href: '#/me' }, '我的', h('span', {}, '登录、实名、家庭成员'))),
  );
}

// ---- estimate ------------------------------------------------------------------------------------------------
// Modes of the estimate screen: the settlement slip (结算单), and a raw hospital bill (医院账单, API.md v1.1
// "Estimates from a raw bill") shown only when the API accepts one — an API without it answers 400 to the probe.
export const estimateModes = {
  slip: { label: '按医保结算单', build: slipForm },
  raw: { label: '按医院账单', build: rawForm, available: rawBillSupported },
};

let rawProbe = null;
function rawBillSupported(plans) {
  if (!rawProbe) {
    const plan = plans.find((p) => p.status === 'open') || plans[0];
    rawProbe = api.post('v1/estimates', { plan_id: plan.plan_id, bills: [{ service_date: plan.coverage_start, setting: 'inpatient',
      hospital_level: 3, basic_type: 'employee', raw: { total_fen: 100000 } }] }, { auth: false })
      // 200, or a rule about this city's parameters (e.g. 登封 has no 职工 parameters): raw bills are understood.
      // An API without them refuses the unknown field `raw` (400 UNKNOWN_FIELD); a network failure hides the tab too.
      .then((r) => Boolean(r && r.bills && r.bills[0] && r.bills[0].layers),
        (e) => e.status >= 400 && e.status < 500 && e.code !== 'UNKNOWN_FIELD' && e.code !== 'MALFORMED_JSON');
  }
  return rawProbe;
}

export async function estimate() {
  const mount = screenMount();
  mount(backLink(), h('h1', {}, '测一测能赔多少'), h('p', { class: 'loading' }, '正在加载方案…'));
  let plans;
  try { plans = await api.plans(); } catch (e) { mount(errorCard(e)); return; }
  const result = h('section', { id: 'estimate-result', 'aria-live': 'polite' });
  const body = h('div', {});
  const seg = h('div', { class: 'seg', role: 'tablist', 'aria-label': '测算方式', hidden: true });
  const show = (id) => {
    seg.querySelectorAll('button').forEach((b) => b.setAttribute('aria-selected', String(b.dataset.mode === id)));
    result.replaceChildren();
    body.replaceChildren(estimateModes[id].build(plans, result));
  };
  for (const [id, mode] of Object.entries(estimateModes)) {
    const tab = h('button', { type: 'button', role: 'tab', dataset: { mode: id }, onclick: () => show(id), hidden: Boolean(mode.available) }, mode.label);
    seg.append(tab);
    if (mode.available) {
      mode.available(plans).then((ok) => {
        tab.hidden = !ok;
        seg.hidden = [...seg.children].filter((b) => !b.hidden).length < 2;
        document.body.dataset[id + 'Mode'] = ok ? 'yes' : 'no';
      });
    }
  }
  mount(backLink(), h('h1', {}, '测一测能赔多少'),
    h('p', { class: 'muted elder-hide' }, '按医保结算单(或医院账单)上的金额估算惠民保这一层能赔多少;结果仅供参考,以理赔审核为准。无需登录。'),
    seg, body, result);
  show('slip');
}

function planSelect(plans, name = 'plan_id') {
  const sel = h('select', {}, plans.map((p) => h('option', { value: p.plan_id }, `${p.name}(${p.city_name} ${p.coverage_start.slice(0, 4)})`)));
  const open = plans.find((p) => p.status === 'open');
  if (open) sel.value = open.plan_id;
  return field('保险方案', sel, { name });
}

function defaultServiceDate(plan) {
  const today = new Date().toISOString().slice(0, 10);
  if (!plan) return today;
  if (today < plan.coverage_start) return plan.coverage_start;
  if (today > plan.coverage_end) return plan.coverage_end;
  return today;
}

function amountInput(name) {
  return h('input', { type: 'text', inputmode: 'decimal', placeholder: '0.00', autocomplete: 'off', 'aria-label': undefined, name });
}

// The fields of one settlement-slip bill (shared with the claim form): date, setting, amounts in yuan.
export function billFields(plan) {
  const primary = CATEGORIES.filter((c) => c[2]);
  const more = CATEGORIES.filter((c) => !c[2]);
  return [
    h('div', { class: 'row' },
      field('就诊日期', h('input', { type: 'date', value: defaultServiceDate(plan), required: true }), { name: 'service_date' }),
      field('就诊类型', h('select', {}, options(SETTINGS, 'inpatient')), { name: 'setting' })),
    primary.map(([name, label]) => field(label + '(元)', amountInput(name), { name })),
    h('details', { class: 'elder-hide' }, h('summary', {}, '更多费用项(超限、转外、负面清单等)'),
      more.map(([name, label]) => field(label + '(元)', amountInput(name), { name }))),
  ];
}

// FormData → one API bill; a malformed amount becomes a field error before any request is sent.
export function readBill(data) {
  const bill = { service_date: data.get('service_date'), setting: data.get('setting') };
  for (const [name, label] of CATEGORIES) {
    const fen = toFen(data.get(name));
    if (Number.isNaN(fen)) throw localError(name, `${label}应为金额,例如 30000 或 30000.50`);
    if (fen) bill[name] = fen;
  }
  return bill;
}

function slipForm(plans, result) {
  const planField = planSelect(plans);
  const planOf = () => plans.find((p) => p.plan_id === planField.querySelector('select').value);
  const bills = h('div', {}, billFields(planOf()));
  planField.querySelector('select').addEventListener('change', () => {
    bills.querySelector('[name="service_date"]').value = defaultServiceDate(planOf());
  });
  const form = h('form', { class: 'card', novalidate: true, 'aria-label': '按结算单测算' },
    planField, bills,
    h('details', { class: 'elder-hide' }, h('summary', {}, '本年度已报销情况(可选)'),
      field('本年度已用免赔额(元)', amountInput('deductible_used_fen'), { name: 'deductible_used_fen' }),
      field('本年度已累计合规费用(元)', amountInput('eligible_fen'), { name: 'eligible_fen' }),
      field('本年度惠民保已赔付(元)', amountInput('paid_fen'), { name: 'paid_fen' })),
    h('button', { class: 'btn', type: 'submit' }, '开始测算'),
    h('p', { class: 'form-error', role: 'alert' }));
  return onSubmit(form, async (data) => {
    const body = { plan_id: data.get('plan_id'), bills: [readBill(data)] };
    const ytd = {};
    for (const k of ['deductible_used_fen', 'eligible_fen', 'paid_fen']) {
      const fen = toFen(data.get(k));
      if (Number.isNaN(fen)) throw localError(k, '应为金额,例如 18000');
      if (fen) ytd[k] = fen;
    }
    if (Object.keys(ytd).length) body.year_to_date = ytd;
    const answer = await api.post('v1/estimates', body, { auth: false });
    result.replaceChildren(estimateResult(answer));
    result.scrollIntoView({ behavior: 'smooth', block: 'start' });
  });
}

const RAW_AMOUNTS = [
  ['total_fen', '医疗费用总额', '发票上的合计金额'],
  ['self_pay_fen', '其中全自费', '含负面清单和准入清单项目'],
  ['class_b_prepay_fen', '其中乙类先行自付', null],
  ['restricted_fen', '其中超限价自付', null],
  ['transfer_out_fen', '其中转外就医自理', null],
  ['negative_list_fen', '全自费中的负面清单项目', null],
  ['admission_list_fen', '全自费中的准入清单项目', null],
];

function rawForm(plans, result) {
  const planField = planSelect(plans);
  const planOf = () => plans.find((p) => p.plan_id === planField.querySelector('select').value);
  const amount = ([name, label, hint]) => field(label + '(元)', amountInput(name), { name, hint });
  const form = h('form', { class: 'card', novalidate: true, 'aria-label': '按医院账单测算' },
    planField,
    h('div', { class: 'row' },
      field('就诊日期', h('input', { type: 'date', value: defaultServiceDate(planOf()) }), { name: 'service_date' }),
      field('就诊类型', h('select', {}, options(SETTINGS, 'inpatient')), { name: 'setting' })),
    h('div', { class: 'row' },
      field('医院等级', h('select', {}, options({ 3: '三级医院', 2: '二级医院', 1: '一级及以下' }, '3')), { name: 'hospital_level' }),
      field('基本医保', h('select', {}, options({ employee: '职工医保', resident: '城乡居民医保' }, 'employee')), { name: 'basic_type' })),
    RAW_AMOUNTS.slice(0, 3).map(amount),
    h('details', { class: 'elder-hide' }, h('summary', {}, '更多(超限价、转外、负面清单等)'), RAW_AMOUNTS.slice(3).map(amount)),
    h('p', { class: 'muted' }, '基本医保和大病保险按本市公开的参数模拟计算,实际以医保结算单为准。'),
    h('button', { class: 'btn', type: 'submit' }, '开始测算'),
    h('p', { class: 'form-error', role: 'alert' }));
  planField.querySelector('select').addEventListener('change', () => {
    form.querySelector('[name="service_date"]').value = defaultServiceDate(planOf());
  });
  return onSubmit(form, async (data) => {
    const raw = {};
    for (const [name, label] of RAW_AMOUNTS) {
      const fen = toFen(data.get(name));
      if (Number.isNaN(fen)) throw localError(name, `${label}应为金额,例如 100000 或 100000.50`);
      if (fen || name === 'total_fen') raw[name] = fen || 0;
    }
    const bill = { service_date: data.get('service_date'), setting: data.get('setting'),
      hospital_level: Number(data.get('hospital_level')), basic_type: data.get('basic_type'), raw };
    const answer = await api.post('v1/estimates', { plan_id: data.get('plan_id'), bills: [bill] }, { auth: false });
    result.replaceChildren(layersCard(answer), estimateResult(answer));
    result.scrollIntoView({ behavior: 'smooth', block: 'start' });
  });
}

// Who pays what of a raw bill: basic insurance, 大病保险, 惠民保, and the member.
function layersCard(answer) {
  const l = answer.layers || (answer.bills[0] && answer.bills[0].layers);
  if (!l) return h('div');
  return h('div', { class: 'card', id: 'layers' }, h('h2', {}, '这笔费用由谁来付(模拟)'),
    h('dl', { class: 'kv' },
      h('dt', {}, '医疗费用总额'), h('dd', {}, yuan(l.total_fen)),
      h('dt', {}, '基本医保报销'), h('dd', { id: 'layer-basic' }, yuan(l.basic.paid_fen)),
      h('dt', {}, '大病保险报销'), h('dd', { id: 'layer-catastrophic' }, yuan(l.catastrophic.paid_fen)),
      h('dt', {}, '惠民保赔付'), h('dd', { id: 'layer-huiminbao' }, yuan(l.huiminbao.payout_fen)),
      h('dt', {}, '个人最终负担'), h('dd', { id: 'layer-member' }, yuan(l.member_pays_fen))),
    h('p', { class: 'muted elder-hide' }, `本笔计入基本医保起付线 ${yuan(l.basic.deductible_fen)},计入大病保险起付线 ${yuan(l.catastrophic.deductible_fen)}。`));
}

export function estimateResult(answer) {
  return h('div', {},
    h('div', { class: 'card hero' }, h('p', {}, '预计惠民保可赔付'),
      h('p', { class: 'big-number', id: 'payout', dataset: { fen: answer.payout_fen } }, yuan(answer.payout_fen)),
      h('p', { class: 'muted' }, '仅供参考,以理赔审核结果为准')),
    answer.bills.map((b, i) => h('div', { class: 'card' },
      h('h2', {}, `第 ${i + 1} 笔 · ${date(b.service_date)} ${SETTINGS[b.setting] || b.setting}`),
      h('dl', { class: 'kv' },
        h('dt', {}, '纳入计算的费用'), h('dd', {}, yuan(b.covered_fen)),
        h('dt', {}, '本笔扣除免赔额'), h('dd', {}, yuan(b.deductible_applied_fen)),
        h('dt', {}, '可报销金额'), h('dd', {}, yuan(b.eligible_fen)),
        h('dt', {}, '本笔赔付'), h('dd', {}, yuan(b.payout_fen))),
      h('details', { open: true, class: 'elder-hide' }, h('summary', {}, '怎么算的'),
        h('ul', { class: 'lines' }, (b.explanation || []).map((line) => h('li', {}, line)))))),
    (answer.notes || []).length ? h('div', { class: 'card elder-hide' }, h('ul', { class: 'lines muted' }, answer.notes.map((n) => h('li', {}, n)))) : null,
  );
}

// ---- login ---------------------------------------------------------------------------------------------------
export function login() {
  const mount = screenMount();
  const phone = h('input', { type: 'tel', inputmode: 'numeric', autocomplete: 'tel', maxlength: 11, placeholder: '11 位手机号', id: 'login-phone' });
  const code = h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6, placeholder: '6 位验证码', id: 'login-code' });
  const sent = h('p', { class: 'success', hidden: true, role: 'status', id: 'sms-sent' });
  const sendBtn = h('button', { type: 'button', class: 'btn secondary', id: 'send-code' }, '获取验证码');
  const form = h('form', { class: 'card', novalidate: true, 'aria-label': '短信验证码登录' },
    field('手机号', phone, { name: 'phone' }), sendBtn, sent,
    field('验证码', code, { name: 'code', hint: '收到的 6 位短信验证码' }),
    h('button', { class: 'btn', type: 'submit' }, '登录'),
    h('p', { class: 'form-error', role: 'alert' }));
  sendBtn.addEventListener('click', async () => {
    clearErrors(form);
    sendBtn.disabled = true;
    try {
      const r = await api.post('v1/auth/sms', { phone: phone.value.trim() }, { auth: false });
      sent.hidden = false;
      sent.textContent = `验证码已发送,${Math.round(r.expires_in / 60)} 分钟内有效。`;
      let left = r.resend_after;
      const tick = () => {
        if (!sendBtn.isConnected) return;
        if (left <= 0) { sendBtn.disabled = false; sendBtn.textContent = '重新获取验证码'; return; }
        sendBtn.textContent = `${left} 秒后可重新获取`; left -= 1; setTimeout(tick, 1000);
      };
      tick();
      code.focus();
    } catch (e) { sendBtn.disabled = false; showError(form, e); }
  });
  onSubmit(form, async (data) => {
    const r = await api.post('v1/auth/sms/verify', { phone: String(data.get('phone')).trim(), code: String(data.get('code')).trim() }, { auth: false });
    api.session.token = r.token;
    const next = sessionStorage.getItem('hmb.next') || '#/me';
    sessionStorage.removeItem('hmb.next');
    go(next);
  });
  mount(backLink(), h('h1', {}, '登录'), h('p', { class: 'muted' }, '用手机号和短信验证码登录;首次登录即注册。'), form);
}

// ---- me: identity and family ---------------------------------------------------------------------------------
export async function me() {
  const mount = screenMount();
  if (needLogin('#/me')) return;
  mount(h('p', { class: 'loading' }, '正在加载…'));
  let account;
  try { account = await api.get('v1/me'); } catch (e) { if (e.status === 401) { needLogin('#/me'); return; } mount(errorCard(e)); return; }
  const logout = h('button', { type: 'button', class: 'btn secondary elder-hide', onclick: () => { api.session.token = null; go('#/'); } }, '退出登录');
  if (!account.identity) {
    mount(backLink(), h('h1', {}, '实名认证'), h('p', { class: 'muted' }, `已登录:${account.phone || ''}。参保和理赔前,请先核验本人身份(由医保系统核验)。`),
      bindForm(), logout);
    return;
  }
  const id = account.identity;
  const family = h('section', { id: 'family' }, h('p', { class: 'loading' }, '正在加载家庭成员…'));
  mount(backLink(), h('h1', {}, '我的'),
    h('div', { class: 'card', id: 'identity-card' }, h('h2', {}, '本人(已实名)'),
      h('dl', { class: 'kv' }, h('dt', {}, '姓名'), h('dd', {}, id.name), h('dt', {}, '身份证号'), h('dd', {}, id.id_number_masked),
        h('dt', {}, '手机号'), h('dd', {}, account.phone || '—'))),
    h('a', { class: 'btn', href: '#/plans' }, '去参保'),
    family, logout);
  loadFamily(family);
}

function bindForm() {
  const form = h('form', { class: 'card', novalidate: true, 'aria-label': '实名认证' },
    field('姓名', h('input', { type: 'text', autocomplete: 'name', id: 'bind-name' }), { name: 'name', hint: '与身份证上一致' }),
    field('身份证号', h('input', { type: 'text', autocomplete: 'off', maxlength: 18, id: 'bind-id', inputmode: 'text' }), { name: 'id_number', hint: '18 位居民身份证号码;加密保存,只显示部分号码' }),
    h('button', { class: 'btn', type: 'submit' }, '核验并绑定'),
    h('p', { class: 'form-error', role: 'alert' }));
  return onSubmit(form, async (data) => {
    await api.put('v1/me/identity', { name: String(data.get('name')).trim(), id_number: String(data.get('id_number')).trim().toUpperCase() });
    const next = sessionStorage.getItem('hmb.next');
    sessionStorage.removeItem('hmb.next');
    go(next || '#/me');
  });
}

async function loadFamily(section) {
  let members;
  try { members = await api.get('v1/family-members'); } catch (e) { section.replaceChildren(errorCard(e)); return; }
  const list = members.map((m) => h('div', { class: 'card' },
    h('h2', {}, `${m.name} · ${RELATIONSHIPS[m.relationship] || m.relationship}`),
    h('p', { class: 'muted' }, m.id_number_masked),
    h('ul', { class: 'lines' }, (m.plans || []).map((p) => h('li', {}, `${p.plan_name}:`,
      p.already_covered ? '已参保' : p.can_enrol ? '可参保' : (p.reason || '暂不可参保')))),
    h('button', { type: 'button', class: 'btn secondary small elder-hide', 'aria-label': `删除家庭成员 ${m.name}`, onclick: async (ev) => {
      ev.target.disabled = true;
      try { await api.del(`v1/family-members/${encodeURIComponent(m.member_id)}`); loadFamily(section); } catch (e) { ev.target.disabled = false; alert(e.message); }
    } }, '删除')));
  const form = h('form', { class: 'card', novalidate: true, 'aria-label': '添加家庭成员' },
    h('h2', {}, '添加家庭成员'),
    field('姓名', h('input', { type: 'text', autocomplete: 'off' }), { name: 'name' }),
    field('身份证号', h('input', { type: 'text', autocomplete: 'off', maxlength: 18 }), { name: 'id_number' }),
    field('与本人关系', h('select', {}, options(Object.fromEntries(Object.entries(RELATIONSHIPS).filter(([k]) => k !== 'self')), 'parent')), { name: 'relationship' }),
    h('button', { class: 'btn', type: 'submit' }, '添加'),
    h('p', { class: 'form-error', role: 'alert' }));
  onSubmit(form, async (data) => {
    await api.post('v1/family-members', { name: String(data.get('name')).trim(), id_number: String(data.get('id_number')).trim().toUpperCase(), relationship: data.get('relationship') });
    loadFamily(section);
  });
  section.replaceChildren(h('h2', {}, `家庭成员(${members.length})`), ...list, form);
}

// ---- plans and enrolment -------------------------------------------------------------------------------------
export async function plans() {
  const mount = screenMount();
  mount(h('p', { class: 'loading' }, '正在加载方案…'));
  let list;
  try { list = await api.plans(true); } catch (e) { mount(errorCard(e)); return; }
  const order = { open: 0, upcoming: 1, closed: 2 };
  list = [...list].sort((a, b) => (order[a.status] ?? 3) - (order[b.status] ?? 3));
  mount(backLink(), h('h1', {}, '选择保险方案'),
    list.map((p) => {
      const [statusText, cls] = PLAN_STATUS[p.status] || [p.status, ''];
      return h('div', { class: 'card' + (p.status === 'closed' ? ' elder-hide' : '') },
        h('h2', {}, p.name, ' ', h('span', { class: `tag ${cls}` }, statusText)),
        h('dl', { class: 'kv' },
          h('dt', {}, '保费'), h('dd', {}, yuan(p.premium_fen) + ' / 人'),
          h('dt', {}, '保障期间'), h('dd', {}, `${p.coverage_start} 至 ${p.coverage_end}`),
          h('dt', { class: 'elder-hide' }, '集中参保期'), h('dd', { class: 'elder-hide' }, `${p.window_start} 至 ${p.window_end}`)),
        h('a', { class: 'btn' + (p.status === 'open' ? '' : ' secondary'), href: `#/plans/${encodeURIComponent(p.plan_id)}` },
          p.status === 'open' ? '立即参保' : '查看详情'));
    }));
}

export async function plan(planId) {
  const mount = screenMount();
  mount(h('p', { class: 'loading' }, '正在加载方案…'));
  let detail;
  try { detail = await api.get(`v1/plans/${encodeURIComponent(planId)}`, { auth: false }); } catch (e) { mount(errorCard(e)); return; }
  const info = h('div', { class: 'card' },
    h('h1', {}, detail.name), h('p', {}, detail.benefits.summary_zh),
    h('dl', { class: 'kv' }, h('dt', {}, '保费'), h('dd', {}, yuan(detail.premium_fen) + ' / 人'),
      h('dt', {}, '承保公司'), h('dd', {}, detail.insurer),
      h('dt', {}, '保障期间'), h('dd', {}, `${detail.coverage_start} 至 ${detail.coverage_end}`)),
    (detail.warnings || []).map((w) => h('p', { class: 'notice elder-hide' }, w)));
  const slot = h('div', {});
  mount(h('a', { class: 'back', href: '#/plans' }, '‹ 返回方案列表'), info, slot);
  if (detail.status !== 'open') { slot.append(h('p', { class: 'notice' }, '该方案当前不在销售期内,暂不能参保。')); return; }
  if (!api.session.token) {
    slot.append(h('a', { class: 'btn', href: '#/login', onclick: () => sessionStorage.setItem('hmb.next', `#/plans/${planId}`) }, '登录后参保'));
    return;
  }
  let account, members;
  try { [account, members] = await Promise.all([api.get('v1/me'), api.get('v1/family-members')]); } catch (e) { slot.append(errorCard(e)); return; }
  if (!account.identity) {
    sessionStorage.setItem('hmb.next', `#/plans/${planId}`);
    slot.append(h('p', { class: 'notice' }, '参保前请先完成实名认证。'), h('a', { class: 'btn', href: '#/me' }, '去实名认证'));
    return;
  }
  slot.append(enrolForm(detail, account, members));
}

function enrolForm(detail, account, members) {
  const people = [{ value: 'self', label: `${account.identity.name}(本人)`, ok: true, reason: null }].concat(members.map((m) => {
    const opt = (m.plans || []).find((p) => p.plan_id === detail.plan_id);
    return { value: m.member_id, label: `${m.name}(${RELATIONSHIPS[m.relationship] || m.relationship})`,
      ok: !opt || (opt.can_enrol && !opt.already_covered), reason: opt && (opt.already_covered ? '已参保' : opt.reason) };
  }));
  const total = h('p', { class: 'big-number', id: 'enrol-total' }, yuan(detail.premium_fen));
  const insured = h('fieldset', { class: 'plain', 'data-field': 'insured', id: 'enrol-insured', 'aria-describedby': 'enrol-insured-err' },
    h('legend', { class: 'label' }, '为谁参保'),
    people.map((p, i) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'insured', value: p.value, checked: i === 0 && p.ok, disabled: !p.ok }),
      h('span', {}, p.label, p.reason ? h('span', { class: 'hint' }, p.reason) : null))),
    h('p', { class: 'field-error', id: 'enrol-insured-err', role: 'alert' }));
  const methods = detail.payment_methods.filter((m) => PAYMENT_METHODS[m]);
  const preferred = methods.includes('personal_account') ? 'personal_account' : methods[0]; // no WeChat needed
  const pay = h('fieldset', { class: 'plain', 'data-field': 'payment_method', id: 'enrol-pay', 'aria-describedby': 'enrol-pay-err' },
    h('legend', { class: 'label' }, '支付方式'),
    methods.map((m) => h('label', { class: 'check' }, h('input', { type: 'radio', name: 'payment_method', value: m, checked: m === preferred }),
      h('span', {}, PAYMENT_METHODS[m], m === 'personal_account' && detail.personal_account_relationships.length
        ? h('span', { class: 'hint' }, '可为' + detail.personal_account_relationships.map((r) => RELATIONSHIPS[r] || r).join('、') + '使用') : null))),
    h('p', { class: 'field-error', id: 'enrol-pay-err', role: 'alert' }));
  const renew = h('label', { class: 'check elder-hide' }, h('input', { type: 'checkbox', name: 'auto_renew', value: '1', 'data-field': 'auto_renew' }),
    h('span', {}, '到期自动续保(从医保个人账户扣款,扣款前会通知,可随时关闭)'));
  const form = h('form', { class: 'card', novalidate: true, 'aria-label': '参保' },
    h('h2', {}, '参保'), insured, pay, renew, h('p', {}, '合计'), total,
    h('button', { class: 'btn', type: 'submit', id: 'enrol-submit' }, '确认参保并支付'),
    h('p', { class: 'form-error', role: 'alert' }));
  const recount = () => { total.textContent = yuan(detail.premium_fen * form.querySelectorAll('input[name="insured"]:checked').length); };
  form.addEventListener('change', recount);
  let key = api.newKey(); let keyBody = null; // one Idempotency-Key per distinct purchase: a retry resends the same
  onSubmit(form, async (data) => {
    const body = { plan_id: detail.plan_id, insured: data.getAll('insured'), payment_method: data.get('payment_method'), auto_renew: data.get('auto_renew') === '1' };
    if (!body.insured.length) throw localError('insured', '请至少选择一位被保险人。');
    const signature = JSON.stringify(body);
    if (keyBody !== null && keyBody !== signature) key = api.newKey();
    keyBody = signature;
    const order = await api.post('v1/orders', body, { idempotencyKey: key });
    form.replaceWith(orderCard(order));
  });
  return form;
}

function inWeChat() {
  return typeof window.WeixinJSBridge !== 'undefined' || /MicroMessenger/i.test(navigator.userAgent);
}

// The order after POST /v1/orders: paid at once (personal account) or waiting for WeChat Pay.
export function orderCard(order) {
  const card = h('div', { class: 'card', id: 'order-card', dataset: { status: order.status, orderId: order.order_id } });
  const render = (o) => {
    card.dataset.status = o.status;
    const parts = [h('h2', {}, `订单 ${ORDER_STATUS[o.status] || o.status}`),
      h('dl', { class: 'kv' }, h('dt', {}, '金额'), h('dd', {}, yuan(o.amount_fen)), h('dt', {}, '支付方式'), h('dd', {}, PAYMENT_METHODS[o.payment_method] || o.payment_method))];
    if (o.status === 'paid') {
      parts.unshift(h('p', { class: 'success', role: 'status' }, '参保成功!'));
      parts.push(h('ul', { class: 'lines' }, o.insured.map((i) => h('li', {}, `${i.name}:${date(i.benefit_start)} 起享受待遇。`, WAITING_RULES[i.waiting_rule] || ''))));
      parts.push(h('a', { class: 'btn', href: '#/policies' }, '查看我的保单'));
    } else if (o.status === 'pending_payment') {
      parts.push(payButtons(o, render));
    } else if (o.failure) {
      parts.push(h('p', { class: 'form-error' }, o.failure.message));
    }
    card.replaceChildren(...parts);
  };
  render(order);
  return card;
}

function payButtons(order, render) {
  const box = h('div', {});
  const msg = h('p', { class: 'form-error', role: 'alert' });
  const refresh = async (tries = 10) => {
    const o = await api.get(`v1/orders/${encodeURIComponent(order.order_id)}`);
    if (o.status === 'pending_payment' && tries > 0) { setTimeout(() => refresh(tries - 1).catch((e) => { msg.textContent = e.message; }), 1500); return; }
    render(o);
  };
  if (inWeChat() && order.wechat_pay) {
    // JSAPI inside WeChat: the signed parameters go to getBrandWCPayRequest; the server learns the result from
    // WeChat's notification, so the page only asks the order again.
    const invoke = () => window.WeixinJSBridge.invoke('getBrandWCPayRequest', order.wechat_pay, (res) => {
      if (res.err_msg === 'get_brand_wcpay_request:ok') refresh().catch((e) => { msg.textContent = e.message; });
      else msg.textContent = '支付未完成,可再次点击支付。';
    });
    box.append(h('button', { type: 'button', class: 'btn', id: 'wechat-pay', onclick: () => {
      // WeChat injects the bridge a moment after the page loads: wait for it if it is not there yet.
      if (window.WeixinJSBridge) invoke(); else document.addEventListener('WeixinJSBridgeReady', invoke, { once: true });
    } }, '微信支付'));
  } else if (order.h5_url) {
    // Outside WeChat: WeChat Pay's H5 payment type opens its own page and comes back here.
    box.append(h('a', { class: 'btn', href: order.h5_url }, '去微信支付'));
  } else if (!api.SANDBOX) {
    box.append(h('p', { class: 'notice' }, '请在微信中打开本页完成支付,或改用医保个人账户支付。'));
  }
  if (api.SANDBOX) {
    // Local stage: the WeChat Pay simulator sends the signed notification either payment type would cause.
    box.append(h('button', { type: 'button', class: 'btn', id: 'sandbox-pay', onclick: async (ev) => {
      ev.target.disabled = true;
      try { await api.post(`sandbox/wechat/pay/${encodeURIComponent(order.order_id)}`, { result: 'success' }, { auth: false }); await refresh(0); }
      catch (e) { ev.target.disabled = false; msg.textContent = e.message; }
    } }, '模拟微信支付成功(沙箱)'));
  }
  box.append(msg);
  return box;
}

// ---- policies ------------------------------------------------------------------------------------------------
export async function policies() {
  const mount = screenMount();
  if (needLogin('#/policies')) return;
  mount(h('p', { class: 'loading' }, '正在加载保单…'));
  let list;
  try { list = await api.get('v1/policies'); } catch (e) { if (e.status === 401) { needLogin('#/policies'); return; } mount(errorCard(e)); return; }
  mount(backLink(), h('h1', {}, '我的保单'),
    list.length ? list.map(policyCard) : h('div', { class: 'card' }, h('p', {}, '还没有保单。'), h('a', { class: 'btn', href: '#/plans' }, '去参保')));
}

function policyCard(p) {
  const toggle = h('input', { type: 'checkbox', checked: p.auto_renew, 'data-field': 'enabled', id: `renew-${p.policy_id}`, 'aria-describedby': `renew-${p.policy_id}-err` });
  const err = h('p', { class: 'field-error', id: `renew-${p.policy_id}-err`, role: 'alert' });
  const card = h('article', { class: 'card policy', dataset: { policyId: p.policy_id }, 'aria-label': `${p.plan_name} ${p.insured.name}` },
    h('h2', {}, p.plan_name, ' ', h('span', { class: 'tag ok' }, POLICY_STATUS_TEXT(p.status))),
    h('dl', { class: 'kv' },
      h('dt', {}, '被保险人'), h('dd', {}, p.insured.name),
      h('dt', { class: 'elder-hide' }, '身份证号'), h('dd', { class: 'elder-hide' }, p.insured.id_number_masked),
      h('dt', {}, '待遇开始'), h('dd', { class: 'benefit-start' }, date(p.benefit_start)),
      h('dt', {}, '保障至'), h('dd', {}, date(p.coverage_end)),
      h('dt', { class: 'elder-hide' }, '保费'), h('dd', { class: 'elder-hide' }, yuan(p.premium_fen))),
    h('p', { class: 'notice waiting-rule' }, WAITING_RULES[p.waiting_rule] || p.waiting_rule),
    p.year_to_date ? h('dl', { class: 'kv elder-hide' },
      h('dt', {}, '本年已用免赔额'), h('dd', {}, yuan(p.year_to_date.deductible_used_fen)),
      h('dt', {}, '本年已赔付'), h('dd', {}, yuan(p.year_to_date.paid_fen))) : null,
    p.roles.includes('payer') ? h('label', { class: 'check', for: toggle.id }, toggle, h('span', {}, '自动续保')) : null,
    p.roles.includes('payer') ? err : null);
  toggle.addEventListener('change', async () => {
    err.textContent = ''; toggle.disabled = true;
    try { const r = await api.put(`v1/policies/${encodeURIComponent(p.policy_id)}/auto-renewal`, { enabled: toggle.checked }); toggle.checked = !!r.auto_renew; }
    catch (e) { toggle.checked = !toggle.checked; err.textContent = e.message; }
    finally { toggle.disabled = false; }
  });
  return card;
}

function POLICY_STATUS_TEXT(status) {
  return { active: '保障中', pending: '待生效', cancelled: '已退保', expired: '已到期' }[status] || status;
}

export { errorCard, needLogin, planSelect };
