// Labels, dates and numbers in the user's language: zh-CN first, English
// second. Every string the app shows goes through t() so that the switch
// changes all of them at once (the app re-renders on a change).
const messages = {
  'zh-CN': {
    app: '城市网格', appSub: '指挥调度台', phoneTitle: '网格员上报',
    signIn: '登录', signOut: '退出', token: '访问令牌', tokenHint: '向管理员索取访问令牌（cg_…），仅保存在本标签页中。',
    signInTitle: '登录城市网格', sessionExpired: '登录已失效或令牌已被吊销，请重新登录。', badToken: '令牌无效，请检查后重试。',
    lang: 'English', langTitle: 'Switch to English',
    roles: { admin: '系统管理员', planner: '网格规划员', dispatcher: '调度员', unit: '处置单位', inspector: '网格员', analyst: '分析员' },
    menu: { desk: '案件调度', owners: '责任查询', phone: '手机上报', help: '快捷键' },
    search: '搜索区划、网格、道路、单位、案件…', searchNone: '没有找到“{q}”', searching: '搜索中…',
    kinds: { region: '区划', grid: '网格', object: '对象', unit: '单位', case: '案件' },
    levels: { district: '区', subdistrict: '街道', community: '社区' },
    layers: '图层', layerNames: { regions: '行政区划', grids: '网格', streets: '道路', objects: '部件与场所', cases: '案件' },
    legend: '图例', legendItems: { district: '区界', subdistrict: '街道界', community: '社区界', grid: '网格', street: '主次干道', alley: '背街小巷', compound: '小区', school: '学校', market: '农贸市场', park: '公园', station: '站点', warning: '即将超时', overdue: '已超时', cluster: '案件聚合（数量）' },
    status: { reported: '上报', registered: '立案', dispatched: '已派遣', handling: '处置中', handled: '已处置', verified: '已核查', closed: '结案', cancelled: '作废', merged: '已合并', suspended: '挂起' },
    actions: { register: '立案', dispatch: '派遣', handle: '开始处置', handled: '处置完成', verify: '核查', close: '结案', return: '退回', cancel: '作废', merge: '合并', suspend: '挂起', resume: '恢复', reopen: '重新开启' },
    sources: { inspector: '网格员上报', hotline: '热线', secret_inspection: '暗访', citizen: '市民', supervisor: '领导交办', patrol: '巡查' },
    queue: '案件队列', myQueue: '本单位待办', allOpen: '全部未结', allStatuses: '全部状态', anyCategory: '全部类别',
    onlyOverdue: '仅超时', onlyWarning: '仅预警', refresh: '刷新', loadMore: '加载更多', empty: '没有符合条件的案件', total: '共 {n} 件',
    live: '实时', offline: '连接中断，正在重连…', newCaseHere: '在此新建案件', newCase: '新建案件',
    pickPoint: '在地图上点击案件位置（Esc 取消）', category: '类别', source: '来源', description: '问题描述', descHint: '例如：路口东侧机动车违停',
    reporterName: '报告人', reporterPhone: '联系电话', photos: '照片', submit: '提交', cancel: '取消', close: '关闭',
    dupes: '附近可能重复的案件', dupesNone: '附近没有同类未结案件', dupesFiled: '受理时发现可能重复：', checking: '查重中…',
    filed: '已受理案件 {code}', point: '位置', grid: '网格', regions: '所属区划', objects: '附近对象', owners: '责任单位',
    lead: '主责', support: '协办', via: '依据', viaKinds: { grid: '网格', region: '区划', object: '对象', rule: '规则' },
    outside: '此处不在任何网格内', nearest: '最近网格：{code}（{m} 米）',
    caseTitle: '案件 {code}', reportedAt: '上报时间', deadline: '处置时限', remaining: '剩余工作时间', overdueBy: '已超时 {d}',
    noDeadline: '未派遣，尚无时限', proposedUnit: '建议派遣单位', unit: '处置单位', reporter: '报告人', history: '办理经过',
    noPhotos: '暂无照片', noActions: '当前身份在此状态下无可办理操作', note: '意见 / 说明', noteRequired: '请填写说明',
    reason: '原因', passed: '核查通过', failed: '核查不通过', into: '合并到案件', otherUnit: '其他单位代码', confirm: '确定',
    done: '{action}：已完成', limitHours: '{n} 小时', warningBadge: '预警', overdueBadge: '超时', needsConfirmation: '位置待确认',
    help: '快捷键', shortcuts: [['/', '搜索'], ['N', '在地图中心新建案件（或点击地图选点）'], ['Q', '显示案件队列'], ['J / K', '队列中下一件 / 上一件'], ['Enter', '打开选中的案件'], ['D', '派遣当前案件'], ['1–9', '执行案件面板中的第 N 个操作'], ['R', '刷新队列与地图'], ['L', '切换中文 / English'], ['Esc', '关闭面板或对话框'], ['?', '显示本帮助']],
    locating: '查询中…', clickHint: '点击地图任意位置，查看该处归属网格与责任单位。',
    myReports: '我的上报', reportHere: '在此上报问题', outbox: '待发送（离线保存）', sending: '发送中…', sent: '已上报 {code}',
    savedOffline: '网络不可用，已保存，联网后自动发送', patrol: '巡查轨迹', startPatrol: '开始巡查', stopPatrol: '结束巡查并上传',
    patrolPoints: '已记录 {n} 个点，{m} 米', patrolSent: '巡查轨迹已上传', noGeo: '无法获取位置：{msg}', myPosition: '我的位置',
    sendFailed: '发送失败：{msg}', discard: '删除', retry: '重试', takePhoto: '拍照 / 选择照片',
    errors: {
      unauthorized: '登录已失效，请重新登录。', forbidden: '当前身份无权执行此操作。', not_found: '未找到所请求的内容。',
      conflict: '操作冲突：案件状态已变化，请刷新后重试。', invalid: '填写有误：{field}{msg}', bad_request: '请求有误：{field}{msg}',
      too_large: '文件过大，请压缩照片后重试。', busy: '服务器繁忙，请稍后重试。', service_unavailable: '服务暂不可用，请稍后重试。',
      internal: '服务器内部错误（请求编号 {rid}）。', network: '无法连接服务器，请检查网络。', address_not_found: '未找到该地址。', unknown: '操作失败（{status}）。',
    },
    fields: { category: '类别', description: '描述', source: '来源', note: '说明', unit: '单位', into: '合并目标', lon: '位置', lat: '位置', photo: '照片', stage: '阶段', reporter_phone: '电话', passed: '核查结果' },
  },
  en: {
    app: 'City Grid', appSub: 'Command desk', phoneTitle: 'Inspector',
    signIn: 'Sign in', signOut: 'Sign out', token: 'Access token', tokenHint: 'Ask your administrator for a token (cg_…); it is kept in this tab only.',
    signInTitle: 'Sign in to City Grid', sessionExpired: 'Your session expired or the token was revoked. Please sign in again.', badToken: 'This token is not valid; check it and try again.',
    lang: '中文', langTitle: '切换到中文',
    roles: { admin: 'Administrator', planner: 'Grid planner', dispatcher: 'Dispatcher', unit: 'Responsible unit', inspector: 'Grid inspector', analyst: 'Analyst' },
    menu: { desk: 'Dispatch', owners: 'Who owns here', phone: 'Phone reporting', help: 'Shortcuts' },
    search: 'Search regions, grids, streets, units, cases…', searchNone: 'Nothing found for “{q}”', searching: 'Searching…',
    kinds: { region: 'Region', grid: 'Grid', object: 'Object', unit: 'Unit', case: 'Case' },
    levels: { district: 'District', subdistrict: 'Subdistrict', community: 'Community' },
    layers: 'Layers', layerNames: { regions: 'Boundaries', grids: 'Grids', streets: 'Streets', objects: 'Places & components', cases: 'Cases' },
    legend: 'Legend', legendItems: { district: 'District boundary', subdistrict: 'Subdistrict boundary', community: 'Community boundary', grid: 'Grid', street: 'Main street', alley: 'Back alley', compound: 'Residential compound', school: 'School', market: 'Market', park: 'Park', station: 'Station', warning: 'Due soon', overdue: 'Overdue', cluster: 'Case cluster (count)' },
    status: { reported: 'Reported', registered: 'Registered', dispatched: 'Dispatched', handling: 'Handling', handled: 'Handled', verified: 'Verified', closed: 'Closed', cancelled: 'Cancelled', merged: 'Merged', suspended: 'Suspended' },
    actions: { register: 'Register', dispatch: 'Dispatch', handle: 'Start handling', handled: 'Mark handled', verify: 'Verify', close: 'Close', return: 'Return', cancel: 'Cancel case', merge: 'Merge', suspend: 'Suspend', resume: 'Resume', reopen: 'Reopen' },
    sources: { inspector: 'Grid inspector', hotline: 'Hotline', secret_inspection: 'Secret inspection', citizen: 'Citizen', supervisor: 'Supervisor', patrol: 'Patrol' },
    queue: 'Case queue', myQueue: 'My unit’s queue', allOpen: 'All open', allStatuses: 'All statuses', anyCategory: 'All categories',
    onlyOverdue: 'Overdue only', onlyWarning: 'Due soon only', refresh: 'Refresh', loadMore: 'Load more', empty: 'No cases match', total: '{n} cases',
    live: 'Live', offline: 'Connection lost, reconnecting…', newCaseHere: 'New case here', newCase: 'New case',
    pickPoint: 'Click the map where the problem is (Esc cancels)', category: 'Category', source: 'Source', description: 'Description', descHint: 'e.g. car parked illegally east of the crossing',
    reporterName: 'Reporter', reporterPhone: 'Phone', photos: 'Photos', submit: 'Submit', cancel: 'Cancel', close: 'Close',
    dupes: 'Possible duplicates nearby', dupesNone: 'No open case of this category nearby', dupesFiled: 'Possible duplicates found at intake:', checking: 'Checking for duplicates…',
    filed: 'Case {code} filed', point: 'Location', grid: 'Grid', regions: 'Regions', objects: 'Objects here', owners: 'Responsible units',
    lead: 'Lead', support: 'Support', via: 'Rule', viaKinds: { grid: 'grid', region: 'region', object: 'object', rule: 'rule' },
    outside: 'This point is outside every grid', nearest: 'Nearest grid: {code} ({m} m)',
    caseTitle: 'Case {code}', reportedAt: 'Reported', deadline: 'Deadline', remaining: 'Working time left', overdueBy: 'Overdue by {d}',
    noDeadline: 'Not dispatched yet, no deadline', proposedUnit: 'Proposed unit', unit: 'Unit', reporter: 'Reporter', history: 'History',
    noPhotos: 'No photos', noActions: 'Your role has no action in this status', note: 'Note', noteRequired: 'A note is required',
    reason: 'Reason', passed: 'Passed', failed: 'Not passed', into: 'Merge into case', otherUnit: 'Other unit code', confirm: 'Confirm',
    done: '{action}: done', limitHours: '{n} h', warningBadge: 'Due soon', overdueBadge: 'Overdue', needsConfirmation: 'Location to confirm',
    help: 'Keyboard shortcuts', shortcuts: [['/', 'Search'], ['N', 'New case at the map centre (or click the map)'], ['Q', 'Show the case queue'], ['J / K', 'Next / previous case in the queue'], ['Enter', 'Open the selected case'], ['D', 'Dispatch the open case'], ['1–9', 'Take the Nth action of the case panel'], ['R', 'Refresh queue and map'], ['L', 'Switch 中文 / English'], ['Esc', 'Close the panel or dialog'], ['?', 'Show this help']],
    locating: 'Looking up…', clickHint: 'Click anywhere on the map to see its grid and responsible units.',
    myReports: 'My reports', reportHere: 'Report a problem here', outbox: 'Outbox (saved offline)', sending: 'Sending…', sent: 'Reported {code}',
    savedOffline: 'No network: saved, it will be sent when online', patrol: 'Patrol track', startPatrol: 'Start patrol', stopPatrol: 'End patrol and upload',
    patrolPoints: '{n} points recorded, {m} m', patrolSent: 'Patrol track uploaded', noGeo: 'Cannot get the position: {msg}', myPosition: 'My position',
    sendFailed: 'Sending failed: {msg}', discard: 'Delete', retry: 'Retry', takePhoto: 'Take / choose photos',
    errors: {
      unauthorized: 'Your session has expired; please sign in again.', forbidden: 'Your role may not do this.', not_found: 'Not found.',
      conflict: 'Conflict: the case changed meanwhile; refresh and try again.', invalid: 'Please check {field}{msg}', bad_request: 'Bad request: {field}{msg}',
      too_large: 'The file is too large; use a smaller photo.', busy: 'The server is busy; try again shortly.', service_unavailable: 'The service is unavailable; try again shortly.',
      internal: 'Internal server error (request {rid}).', network: 'Cannot reach the server; check the network.', address_not_found: 'Address not found.', unknown: 'The request failed ({status}).',
    },
    fields: { category: 'category', description: 'description', source: 'source', note: 'note', unit: 'unit', into: 'merge target', lon: 'location', lat: 'location', photo: 'photo', stage: 'stage', reporter_phone: 'phone', passed: 'result' },
  },
};

const langKey = 'citygrid.lang';
let lang = localStorage.getItem(langKey) === 'en' ? 'en' : 'zh-CN';
const listeners = new Set();

export const getLang = () => lang;
export function setLang(l) {
  lang = l === 'en' ? 'en' : 'zh-CN';
  localStorage.setItem(langKey, lang);
  document.documentElement.lang = lang;
  for (const f of listeners) f(lang);
}
export const onLang = (f) => listeners.add(f);
document.documentElement.lang = lang;

// t('a.b', {x}) looks a key up and fills {x} placeholders.
export function t(key, vars) {
  let v = key.split('.').reduce((o, k) => (o == null ? o : o[k]), messages[lang]);
  if (v == null) v = key.split('.').reduce((o, k) => (o == null ? o : o[k]), messages['zh-CN']);
  if (v == null) return key.split('.').pop();
  if (typeof v === 'string' && vars) v = v.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? ''));
  return v;
}

export const num = (n, opts) => new Intl.NumberFormat(lang, opts).format(n);
export const dateTime = (s) => (s ? new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Asia/Shanghai' }).format(new Date(s)) : '—');
export const timeOnly = (s) => new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Shanghai' }).format(new Date(s));

// duration renders seconds as "2 h 5 min" in the language's own units.
export function duration(sec) {
  sec = Math.abs(Math.round(sec));
  const d = Math.floor(sec / 86400), h = Math.floor((sec % 86400) / 3600), m = Math.floor((sec % 3600) / 60);
  const parts = [];
  const f = (v, unit) => new Intl.NumberFormat(lang, { style: 'unit', unit, unitDisplay: lang === 'en' ? 'short' : 'long' }).format(v);
  if (d) parts.push(f(d, 'day'));
  if (h) parts.push(f(h, 'hour'));
  if (!d && (m || !parts.length)) parts.push(f(m, 'minute'));
  return parts.join(lang === 'en' ? ' ' : '');
}

export function relative(s) {
  const diff = (new Date(s).getTime() - Date.now()) / 1000;
  const rtf = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' });
  const a = Math.abs(diff);
  if (a < 3600) return rtf.format(Math.round(diff / 60), 'minute');
  if (a < 86400) return rtf.format(Math.round(diff / 3600), 'hour');
  return rtf.format(Math.round(diff / 86400), 'day');
}

// catName picks the category's name in the user's language.
export const catName = (c) => (c ? (lang === 'en' ? c.name_en || c.name_zh : c.name_zh || c.name_en) : '');
