// The local stage's sandbox panel (loaded only when the server says the stage is `local`; deployed stages have no
// /sandbox routes): register a person with the simulated 医保 platform, read the last SMS code, set the clock.
import * as api from './api.js';
import { field, h, onSubmit, toFen } from './ui.js';

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

// A synthetic resident ID with a valid check digit (GB 11643), as chalicelib.domain.resident_id.make_test_id.
export function testId(region = '331102', born = '19800501', female = false) {
  let seq = Math.floor(Math.random() * 1000);
  if ((seq % 2 === 1) === female) seq = (seq + 1) % 1000;
  const body = region + born + String(seq).padStart(3, '0');
  const sum = [...body].reduce((s, d, i) => s + Number(d) * WEIGHTS[i], 0);
  return body + '10X98765432'[sum % 11];
}

const CITIES = { 331100: ['丽水市', '331102'], 410185: ['登封市', '410185'] };

function personForm(out) {
  const id = h('input', { type: 'text', maxlength: 18, value: testId(), id: 'sb-id' });
  const city = h('select', { id: 'sb-city' }, Object.entries(CITIES).map(([code, [name]]) => h('option', { value: code }, `${name}(${code})`)));
  const form = h('form', { novalidate: true, 'aria-label': '沙箱:登记模拟参保人' },
    h('h3', {}, '1. 在模拟医保平台登记一个人'),
    field('姓名', h('input', { type: 'text', value: '张三', id: 'sb-name' }), { name: 'name' }),
    field('身份证号', id, { name: 'id_number', hint: '随机生成的测试号码' }),
    h('button', { type: 'button', class: 'btn secondary small', onclick: () => { id.value = testId(CITIES[city.value][1]); } }, '换一个号码'),
    field('统筹区', city, { name: 'city' }),
    field('基本医保', h('select', { id: 'sb-type' }, h('option', { value: 'employee' }, '职工医保(有个人账户)'), h('option', { value: 'resident' }, '城乡居民医保')), { name: 'basic_type' }),
    h('div', { class: 'row' },
      field('个人账户当年余额(元)', h('input', { type: 'text', inputmode: 'decimal', value: '500', id: 'sb-current' }), { name: 'account_current_fen' }),
      field('历年余额(元)', h('input', { type: 'text', inputmode: 'decimal', value: '1200', id: 'sb-prior' }), { name: 'account_prior_years_fen' })),
    h('button', { class: 'btn small', type: 'submit', id: 'sb-register' }, '登记'),
    h('p', { class: 'form-error', role: 'alert' }));
  city.addEventListener('change', () => { id.value = testId(CITIES[city.value][1]); });
  return onSubmit(form, async (data) => {
    const employee = data.get('basic_type') === 'employee';
    const person = await api.post('sandbox/people', {
      name: String(data.get('name')).trim(), id_number: String(data.get('id_number')).trim(), city: data.get('city'),
      basic_type: data.get('basic_type'), status: 'active', basic_start: '2005-03-01',
      account_current_fen: employee ? toFen(data.get('account_current_fen')) || 0 : 0,
      account_prior_years_fen: employee ? toFen(data.get('account_prior_years_fen')) || 0 : 0,
    }, { auth: false });
    out.textContent = `已登记 ${person.name}(${person.id_number_masked})。实名认证时填写:${data.get('name')} / ${data.get('id_number')}`;
    out.dataset.name = String(data.get('name')).trim();
    out.dataset.idNumber = String(data.get('id_number')).trim();
    const n = document.getElementById('bind-name'); const i = document.getElementById('bind-id');
    if (n && i) { n.value = out.dataset.name; i.value = out.dataset.idNumber; }
  });
}

function smsForm(out) {
  const form = h('form', { novalidate: true, 'aria-label': '沙箱:读取短信验证码' },
    h('h3', {}, '2. 读取发给某手机号的验证码'),
    field('手机号', h('input', { type: 'tel', id: 'sb-phone', value: '13800138000' }), { name: 'phone' }),
    h('button', { class: 'btn small', type: 'submit', id: 'sb-read-sms' }, '读取并填入'),
    h('p', { class: 'form-error', role: 'alert' }));
  return onSubmit(form, async (data) => {
    const phone = String(data.get('phone')).trim();
    const sms = await api.get(`sandbox/sms/${encodeURIComponent(phone)}`, { auth: false });
    out.textContent = `验证码 ${sms.code}(${sms.sent_at.slice(11, 19)} 发送)`;
    const code = document.getElementById('login-code');
    if (code) code.value = sms.code;
  });
}

function clockForm(out) {
  const form = h('form', { novalidate: true, 'aria-label': '沙箱:设置服务时钟' },
    h('h3', {}, '3. 设置服务时钟'),
    field('时间(北京时间)', h('input', { type: 'datetime-local', id: 'sb-now', value: '2021-01-15T10:00' }), { name: 'now', hint: '2021-01-15 浙丽保 2021 在售' }),
    h('div', { class: 'row' }, h('button', { class: 'btn small', type: 'submit', id: 'sb-set-clock' }, '设置'),
      h('button', { class: 'btn small secondary', type: 'button', id: 'sb-real-clock', onclick: async () => {
        const r = await api.put('sandbox/clock', { now: null }, { auth: false }); out.textContent = `已恢复真实时间:${r.now.slice(0, 16)}`; api.plans(true);
      } }, '恢复真实时间')),
    h('p', { class: 'form-error', role: 'alert' }));
  return onSubmit(form, async (data) => {
    const r = await api.put('sandbox/clock', { now: `${data.get('now')}:00+08:00` }, { auth: false });
    out.textContent = `服务时钟:${r.now.slice(0, 16).replace('T', ' ')}`;
    api.plans(true);
    window.dispatchEvent(new HashChangeEvent('hashchange')); // redraw the screen at the new date
  });
}

export function mountPanel(slot) {
  const out = h('p', { class: 'success', id: 'sb-out', role: 'status' }, '本地沙箱:以下操作只影响本机 make run 的模拟数据。');
  slot.replaceChildren(h('details', { class: 'sandbox', id: 'sandbox-panel' },
    h('summary', {}, '沙箱工具(仅本地 local 环境)'), out, personForm(out), smsForm(out), clockForm(out)));
}
