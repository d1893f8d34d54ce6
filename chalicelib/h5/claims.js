// Claims: the list, a new claim (with the one-time list of every document it needs), and a claim's progress
// (timeline, what is missing, uploads through the pre-signed S3 POST, then verify).
import * as api from './api.js';
import { billFields, errorCard, go, needLogin, readBill } from './screens.js';
import { DOCUMENT_KINDS, backLink, dateTime, field, h, localError, onSubmit, screenMount, yuan } from './ui.js';

// T/IAC 54-2025: tell the member once, up front, everything a claim will need.
function documentList() {
  return h('div', { class: 'card', id: 'claim-documents-list' },
    h('h2', {}, '理赔需要准备的材料(一次告知)'),
    h('ul', { class: 'lines' },
      h('li', {}, '医疗费用发票(必需)'), h('li', {}, '医保结算单(必需)'), h('li', {}, '费用清单'),
      h('li', {}, '出院小结(住院)或门诊病历(门诊)'), h('li', {}, '收款银行卡(本人或监护人的账户)')),
    h('p', { class: 'muted' }, '亲友代办另需:代办人身份证;在本服务内给予的线上授权可代替纸质授权书。本人已实名认证,无需再交身份证复印件。'),
    h('p', { class: 'muted' }, '材料齐全后 15 个工作日内给出审核结论。'));
}

export async function claims() {
  const mount = screenMount();
  if (needLogin('#/claims')) return;
  mount(h('p', { class: 'loading' }, '正在加载理赔…'));
  let list;
  try { list = await api.get('v1/claims'); } catch (e) { if (e.status === 401) { needLogin('#/claims'); return; } mount(errorCard(e)); return; }
  mount(backLink(), h('h1', {}, '理赔'),
    h('a', { class: 'btn', href: '#/claims/new' }, '申请理赔'),
    h('h2', {}, `我的理赔(${list.length})`),
    list.length ? list.map((c) => h('a', { class: 'card', href: `#/claims/${encodeURIComponent(c.claim_id)}`, style: 'display:block;color:inherit;text-decoration:none' },
      h('h2', {}, c.status_zh, ' ', c.overdue ? h('span', { class: 'tag err' }, '已超期') : null),
      h('dl', { class: 'kv' }, h('dt', {}, '申请时间'), h('dd', {}, dateTime(c.submitted_at)),
        h('dt', {}, c.paid_fen != null ? '已赔付' : c.approved_fen != null ? '核定金额' : '预估金额'),
        h('dd', {}, yuan(c.paid_fen ?? c.approved_fen ?? c.estimate_fen)),
        h('dt', { class: 'elder-hide' }, '结论期限'), h('dd', { class: 'elder-hide' }, c.decision_due ? c.decision_due.slice(0, 10) : (c.decision_due_note || '材料齐全后起算'))))) : h('p', { class: 'muted' }, '还没有理赔申请。'),
    documentList());
}

export async function newClaim() {
  const mount = screenMount();
  if (needLogin('#/claims/new')) return;
  mount(h('p', { class: 'loading' }, '正在加载保单…'));
  let policies;
  try { policies = await api.get('v1/policies'); } catch (e) { mount(errorCard(e)); return; }
  policies = policies.filter((p) => p.roles.includes('insured') || p.roles.includes('claims'));
  if (!policies.length) {
    mount(backLink('#/claims', '‹ 返回理赔'), h('h1', {}, '申请理赔'), documentList(),
      h('div', { class: 'card' }, h('p', {}, '没有可以申请理赔的保单(须是本人的保单,或已获被保险人的理赔授权)。')));
    return;
  }
  const sel = h('select', {}, policies.map((p) => h('option', { value: p.policy_id }, `${p.plan_name} · ${p.insured.name}`)));
  const form = h('form', { class: 'card', novalidate: true, 'aria-label': '申请理赔' },
    field('保单', sel, { name: 'policy_id' }),
    h('h2', {}, '费用(按医保结算单填写)'), billFields({ coverage_start: policies[0].benefit_start, coverage_end: policies[0].coverage_end }),
    h('h2', {}, '收款账户'),
    field('户名', h('input', { type: 'text', autocomplete: 'name' }), { name: 'account_name' }),
    field('开户行', h('input', { type: 'text' }), { name: 'bank_name' }),
    field('银行账号', h('input', { type: 'text', inputmode: 'numeric', maxlength: 30 }), { name: 'account_number', hint: '12 至 30 位数字' }),
    h('button', { class: 'btn', type: 'submit' }, '提交理赔申请'),
    h('p', { class: 'form-error', role: 'alert' }));
  const key = api.newKey();
  onSubmit(form, async (data) => {
    const body = { policy_id: data.get('policy_id'), bills: [readBill(data)],
      payee: { account_name: String(data.get('account_name')).trim(), bank_name: String(data.get('bank_name')).trim(), account_number: String(data.get('account_number')).replace(/\s/g, '') } };
    if (!Object.keys(body.bills[0]).some((k) => k.endsWith('_fen'))) throw localError('in_policy_after_catastrophic_fen', '请至少填写一项费用金额。');
    const claim = await api.post('v1/claims', body, { idempotencyKey: key });
    go(`#/claims/${encodeURIComponent(claim.claim_id)}`);
  });
  mount(backLink('#/claims', '‹ 返回理赔'), h('h1', {}, '申请理赔'), documentList(), form);
}

export async function claim(claimId) {
  const mount = screenMount();
  if (needLogin(`#/claims/${claimId}`)) return;
  mount(h('p', { class: 'loading' }, '正在加载…'));
  let c;
  try { c = await api.get(`v1/claims/${encodeURIComponent(claimId)}`); } catch (e) { mount(errorCard(e)); return; }
  const missing = c.missing_documents || [];
  mount(backLink('#/claims', '‹ 返回理赔'), h('h1', {}, `理赔进度:${c.status_zh}`),
    h('div', { class: 'card' }, h('dl', { class: 'kv' },
      h('dt', {}, '预估金额'), h('dd', {}, yuan(c.estimate_fen)),
      c.approved_fen != null ? [h('dt', {}, '核定金额'), h('dd', {}, yuan(c.approved_fen))] : null,
      c.paid_fen != null ? [h('dt', {}, '已赔付'), h('dd', {}, yuan(c.paid_fen))] : null,
      h('dt', {}, '结论期限'), h('dd', {}, c.decision_due ? c.decision_due.slice(0, 10) : '材料齐全后起算 15 个工作日')),
      c.member_note ? h('p', { class: 'notice' }, c.member_note) : null),
    h('div', { class: 'card', id: 'missing' }, h('h2', {}, missing.length ? '还缺这些材料' : '材料已齐全'),
      missing.length ? h('ul', { class: 'lines' }, missing.map((k) => h('li', {}, DOCUMENT_KINDS[k] || k))) : null,
      uploadForm(c, missing)),
    h('div', { class: 'card elder-hide' }, h('h2', {}, '已上传材料'),
      (c.documents || []).length ? h('ul', { class: 'lines' }, c.documents.map((d) => h('li', {}, `${DOCUMENT_KINDS[d.kind] || d.kind}:`,
        d.status === 'verified' ? '已核验' : d.status === 'rejected' ? `未通过(${d.reason || ''})` : '待上传'))) : h('p', { class: 'muted' }, '暂无')),
    h('div', { class: 'card' }, h('h2', {}, '进度'),
      h('ol', { class: 'timeline' }, c.timeline.map((t) => h('li', {}, h('strong', {}, t.status_zh), h('br'),
        h('span', { class: 'muted' }, `${dateTime(t.at)} · ${BY[t.by] || t.by}`), t.note ? h('p', {}, t.note) : null)))));
}

const BY = { insured: '本人', proxy: '亲友代办', system: '系统', claims_reviewer: '理赔审核员', bureau: '医保局', insurer_admin: '保险公司' };

function uploadForm(c, missing) {
  if (!['submitted', 'under_review', 'need_more_info'].includes(c.status)) return null;
  const kinds = Object.keys(DOCUMENT_KINDS);
  const kind = h('select', {}, kinds.map((k) => h('option', { value: k, selected: k === missing[0] }, DOCUMENT_KINDS[k])));
  // The file input itself is hidden behind a Chinese button: the browser's own "Choose File" is not localised.
  const file = h('input', { type: 'file', accept: 'image/jpeg,image/png,application/pdf', class: 'sr-only', id: 'upload-file',
    'data-field': 'content_type', 'aria-describedby': 'upload-file-err' });
  const chosen = h('p', { class: 'muted', id: 'upload-chosen' }, '未选择文件(JPG、PNG 照片或 PDF)');
  file.addEventListener('change', () => { chosen.textContent = file.files[0] ? file.files[0].name : '未选择文件'; });
  const form = h('form', { novalidate: true, 'aria-label': '上传理赔材料' },
    field('材料类型', kind, { name: 'kind' }),
    h('div', { class: 'field' }, h('label', { for: 'upload-file', class: 'btn secondary' }, '拍照或选择文件'), file, chosen,
      h('p', { class: 'field-error', id: 'upload-file-err', role: 'alert' })),
    h('button', { class: 'btn', type: 'submit' }, '上传'),
    h('p', { class: 'form-error', role: 'alert' }));
  return onSubmit(form, async (data) => {
    const f = file.files[0];
    if (!f) throw localError('content_type', '请选择要上传的文件。');
    const doc = await api.post(`v1/claims/${encodeURIComponent(c.claim_id)}/documents`, { kind: data.get('kind'), content_type: f.type, size_bytes: f.size });
    const up = new FormData();
    for (const [k, v] of Object.entries(doc.upload.fields || {})) up.append(k, v);
    up.append('file', f);
    const r = await fetch(doc.upload.url, { method: doc.upload.method || 'POST', body: up }).catch(() => null);
    if (!r || !r.ok) throw localError('content_type', '文件上传失败,请重试。');
    await api.post(`v1/claims/${encodeURIComponent(c.claim_id)}/documents/${encodeURIComponent(doc.document_id)}/verify`, {});
    claim(c.claim_id);
  });
}
