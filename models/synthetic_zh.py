"""Chinese SMS and chat fraud, and the benign messages that share its words: slot templates.

The only licensable Chinese fraud text in the data directory is TeleAntiFraud's generated phone
calls. Fraud reaches a platform as SMS and chat, written differently: short, a brand in
brackets, a contact to move to (a WeChat or QQ id, a link, an app), a sum and a deadline. This
module writes that register from the fraud patterns China's anti-fraud centre publishes
(impersonated shop and courier service, task rebates, impersonated police and courts,
investment groups, loans and credit repair, game trades, an impersonated boss or friend,
student-loan cancelling, prizes, ETC and medical-insurance "re-activation"), with every name,
sum, id and link drawn at random, so that no message is any real one.

It writes the other side too, as hard negatives: real parcel, bank and log-in notifications,
anti-fraud warnings that name the same tricks, and everyday talk about refunds, shares, loans
and the police. Without them the fast tier would learn that 客服, 退款, 股票 or 公安 are fraud.

Both sides were written by the flagstream team for this purpose (CC0). They are training rows
only (``split = "train"``): no threshold is chosen on them and no card figure counts them. The
golden Chinese scam set (``models/golden``) is what measures whether they carry over to fraud
written by someone else; :func:`examples` refuses any text within
:data:`GOLDEN_SIMILARITY` (character trigram Jaccard) of a golden text.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterator
from typing import TypeVar

SEED = 20261203
SCAM_COUNT = 2000
BENIGN_COUNT = 2000
GOLDEN_SIMILARITY = 0.5  # a generated text this close to a golden one is not used
K = TypeVar("K")

_PLATFORMS = (
    "淘宝",
    "京东",
    "拼多多",
    "抖音",
    "快手",
    "美团",
    "闲鱼",
    "唯品会",
    "饿了么",
    "携程",
    "得物",
    "小红书",
    "天猫",
    "苏宁易购",
)
_COURIERS = ("顺丰", "中通", "圆通", "韵达", "申通", "极兔", "邮政EMS", "京东物流")
_BANKS = (
    "工商银行",
    "建设银行",
    "农业银行",
    "中国银行",
    "招商银行",
    "交通银行",
    "邮储银行",
    "浦发银行",
    "兴业银行",
    "平安银行",
)
_CITIES = (
    "北京",
    "上海",
    "广州",
    "深圳",
    "杭州",
    "成都",
    "武汉",
    "南京",
    "西安",
    "重庆",
    "天津",
    "长沙",
    "郑州",
    "哈尔滨",
    "昆明",
)
_ITEMS = (
    "连衣裙",
    "运动鞋",
    "面霜",
    "蓝牙耳机",
    "儿童玩具",
    "手机壳",
    "奶粉",
    "保温杯",
    "床上四件套",
    "羽绒服",
    "口红",
    "扫地机器人",
)
_REASONS = (
    "检测出甲醛超标",
    "批次质量问题被召回",
    "仓库操作失误导致丢件",
    "物流途中破损",
    "商品涉及违规已下架",
    "系统故障重复扣款",
)
_SERVICES = ("百万保障", "会员自动续费", "金牌会员", "直播间代理商", "商家分销权限", "免密支付")
_CRIMES = ("洗钱", "非法集资", "涉毒", "诈骗", "跨境赌博", "非法出入境", "医保卡套现")
_ACTIONS = (
    "给商品点赞",
    "关注抖音账号",
    "给店铺写好评",
    "给视频点赞截图",
    "帮商家提升销量",
    "在直播间停留三分钟",
    "做简单的问卷",
)
_APPS = (
    "云会议",
    "安心借",
    "速达金融",
    "易投宝",
    "汇金通",
    "优选理财",
    "币安交易所",
    "聚财宝",
    "闪电贷",
)
_PRIZES = ("iPhone 16", "笔记本电脑", "五千元现金", "华为平板", "金条一根", "新能源汽车使用权")
_SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴")
_WX_WORDS = ("微信", "VX", "vx", "薇信", "威信", "V信", "wx", "微")
_QQ_WORDS = ("QQ", "扣扣", "qq", "Q")
_STATIONS = ("菜鸟驿站", "丰巢快递柜", "小区门口驿站", "兔喜生活")


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _wx(rng: random.Random) -> str:
    head = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 6)))
    return head + rng.choice(("", "_", "-")) + _digits(rng, rng.randint(2, 6))


def _phone(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return f"400-{_digits(rng, 3)}-{_digits(rng, 4)}"
    return "1" + rng.choice("3456789") + _digits(rng, 9)


def _url(rng: random.Random) -> str:
    word = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 7)))
    tld = rng.choice(("top", "cc", "vip", "xyz", "cn", "com", "net", "shop"))
    path = "".join(
        rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(4, 8))
    )
    return rng.choice(
        (
            f"{word}.{tld}/{path}",
            f"http://{word}-{_digits(rng, 2)}.{tld}",
            f"t.cn/{path}",
            f"www.{word}.{tld}",
        )
    )


def _contact(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:
        verb = rng.choice(("加", "添加", "联系", "加我", "+"))
        return f"{verb}{rng.choice(_WX_WORDS)}{rng.choice(('', ':', '：', ' '))}{_wx(rng)}"
    if kind < 0.65:
        return (
            f"{rng.choice(('加', '联系'))}{rng.choice(_QQ_WORDS)}{_digits(rng, rng.randint(6, 10))}"
        )
    if kind < 0.85:
        return f"{rng.choice(('点击', '戳', '登录', '打开'))}{_url(rng)}"
    return f"{rng.choice(('拨打', '致电', '回电'))}{_phone(rng)}"


def _amount(rng: random.Random, low: int, high: int) -> str:
    value = rng.randint(low, high)
    return str(value if value < 1000 else value // 10 * 10)


Slots = dict[str, str]


def slots(rng: random.Random) -> Slots:
    """One draw of every slot the templates use (names, sums, contacts, links); the spam
    bridge (``models/synthetic_zh_spam.py``) fills its own templates from it too."""
    return {
        "platform": rng.choice(_PLATFORMS),
        "courier": rng.choice(_COURIERS),
        "bank": rng.choice(_BANKS),
        "city": rng.choice(_CITIES),
        "item": rng.choice(_ITEMS),
        "reason": rng.choice(_REASONS),
        "service": rng.choice(_SERVICES),
        "crime": rng.choice(_CRIMES),
        "action": rng.choice(_ACTIONS),
        "app": rng.choice(_APPS),
        "prize": rng.choice(_PRIZES),
        "name": rng.choice(_SURNAMES),
        "station": rng.choice(_STATIONS),
        "contact": _contact(rng),
        "contact2": _contact(rng),
        "url": _url(rng),
        "phone": _phone(rng),
        "small": _amount(rng, 3, 99),
        "amt": _amount(rng, 100, 9800),
        "big": _amount(rng, 10000, 500000),
        "wan": str(rng.randint(2, 50)),
        "pct": str(rng.choice((5, 8, 10, 15, 20, 30, 50, 100, 200))),
        "n": str(rng.randint(2, 12)),
        "code": _digits(rng, 6),
        "n4": _digits(rng, 4),
        "hour": str(rng.randint(8, 22)),
        "group": _digits(rng, rng.randint(6, 9)),
    }


# --- fraud: one list of templates per pattern ----------------------------------------------

_SCAM: dict[str, tuple[str, ...]] = {
    "customer_service": (
        "【{platform}】尊敬的用户，您购买的{item}{reason}，我们将为您办理{amt}元理赔，请{contact}办理。",
        "您好，我是{platform}售后客服，您的{item}{reason}，按规定给您三倍赔偿，需要您配合在{app}上操作一下。",
        "{platform}提醒：您开通的{service}将于今日起每月扣费{amt}元，如非本人操作请{contact}取消，逾期将持续扣费。",
        "亲，您的订单因{reason}已被系统拦截，可以给您全额退款，麻烦{contact}，客服一对一帮您处理。",
        "【{courier}】您的快递在运输中丢失，我司按{amt}元标准赔付，请{contact}领取理赔款。",
        "您的{platform}账户被误开通了{service}，不取消每月会从银行卡扣{amt}元，请立即{contact}关闭。",
        "您好，这里是{platform}官方客服，您的退款因银行卡信息有误未到账，请打开{url}重新填写卡号和验证码。",
        "客服小{name}：亲，赔付需要先验证您的资金流水，请把验证码发给我，我这边给您走加急通道。",
        "{platform}商家通知：您上周购买的{item}{reason}，现主动退款{amt}元，请{contact}登记收款信息。",
        "【{platform}】检测到您的账户存在异常交易，为保障资金安全，请在{hour}点前{contact}进行身份核实。",
        "您好，您在{platform}的{service}资格即将到期，未关闭将影响您的征信，请下载{app}按客服指引操作。",
        "您的包裹因地址不详被退回，重新派送需支付{small}元运费，请{contact}处理，逾期将退回发件人。",
    ),
    "task_rebate": (
        "招聘兼职：在家动动手指{action}，一单{small}元，日结不押金，有意者{contact}",
        "宝妈学生党看过来，手机{action}就能赚钱，每天轻松{amt}元，{contact}",
        "您好，这边是{platform}商家，{action}就能领{small}元佣金，先做三单体验，垫付后连本带利返还。",
        "任务已派发：完成第{n}单即可提现本金和{pct}%佣金，请尽快充值{amt}元完成连单任务。",
        "刷单一单一结，做满{n}单额外奖励{amt}元，有导师带，进群{group}",
        "诚招线上兼职，{action}，无需经验，一天{amt}+，名额有限，{contact}",
        "你的任务卡单了，需要再垫付{amt}元才能解冻，之前的本金和佣金会一起返还给你。",
        "新人福利：首单{action}立返{small}元，第二单起做连单任务佣金翻倍，下载{app}领取任务。",
        "【兼职】日赚{amt}元不是梦，只需要一部手机，{action}，当天结算，{contact}",
        "亲，恭喜你通过试做，现在进入正式任务，需要先充值{amt}元购买商品，完成后返还本金加{pct}%佣金。",
        "网上做任务赚佣金，简单好做，时间自由，我已经提现{amt}了，想做的{contact}",
        "客服提示：您的任务积分不足无法提现，请完成{n}单连单任务，每单需先垫资{amt}元。",
    ),
    "fake_police": (
        "我是{city}市公安局的民警，你的身份证涉嫌一起{crime}案件，现在需要配合调查，不要告诉任何人。",
        "你好，这里是{city}市人民检察院，你名下银行卡涉嫌{crime}，需要将资金转入安全账户核查，否则冻结你所有账户。",
        "【{city}公安】您涉嫌{crime}，通缉令已下发，请于今天{hour}点前{contact}联系办案警官，否则将依法拘留。",
        "您有一张法院传票未领取，涉及{crime}，详情请{contact}查看案件信息。",
        "{city}警方通知：您的账户涉嫌{crime}资金往来，请下载{app}进行资金清查，配合调查期间严格保密。",
        "这里是{city}市中级人民法院，您涉及一起{crime}案件，请立即{contact}，否则将强制执行。",
        "我是{city}刑侦支队{name}警官，你的个人信息被犯罪团伙盗用，需要你把存款转到国家安全账户保护起来。",
        "【反洗钱中心】您的银行卡涉嫌{crime}，已被列入冻结名单，请在{hour}点前{contact}申请解冻。",
        "你好，我是{city}出入境管理局的，你的护照涉嫌{crime}，需要缴纳{big}元保证金证明清白。",
        "警官提醒：你的案子要保密，不能告诉家人，按我说的把资金转到清查账户，查清后会退还给你。",
    ),
    "investment": (
        "老师带你炒股，跟着内部消息买，一周收益{pct}%，免费进群{group}领取今日牛股。",
        "数字货币新平台上线，稳赚不赔，充值{amt}元起，日收益{pct}%，下载{app}注册即送体验金。",
        "恭喜您被选入{platform}VIP投资交流群，导师每天直播荐股，名额有限，{contact}",
        "有内幕消息，这支股票下周必涨三倍，先交{amt}元会员费就带你上车，{contact}",
        "【{app}】您的账户收益已达{big}元，提现需先缴纳{pct}%的个人所得税，请尽快充值完成提现。",
        "跟着导师做外汇期货，保本保收益，月入{wan}万不是梦，{contact}",
        "今日涨停股票免费送，股民朋友{contact}，每天三支牛股，不准不要钱。",
        "原始股内部认购，明年上市翻十倍，认购门槛{big}元，额度有限先到先得，{contact}",
        "区块链养老项目，投{wan}万每月返息{amt}元，国家支持稳赚不赔，{contact}",
        "您好，我是{bank}理财经理，推荐一款年化{pct}%的内部理财产品，只对老客户开放，请下载{app}购买。",
    ),
    "other": (
        "无抵押无担保，凭身份证即可贷款{wan}万，当天到账，先交{amt}元保证金，{contact}",
        "您的贷款已审批通过，因银行卡号填写错误资金被冻结，请缴纳{amt}元解冻费后放款。",
        "征信不好也能下款，黑户也能贷，专业修复征信，{contact}",
        "我是你们{name}总，明天来我办公室一趟，现在先帮我给客户转{big}元，我在开会不方便。",
        "是我啊，我换号了，在外面出了点事，急需{amt}元，先转到这张卡上，回头还你，别告诉我爸妈。",
        "【学信网】您的学生账户涉及校园贷未注销，将影响个人征信，请{contact}办理注销。",
        "恭喜您获得{platform}周年庆二等奖，奖品{prize}，领奖需先缴纳{amt}元手续费，{contact}",
        "【ETC】您的ETC卡已失效，请登录{url}重新认证，逾期将无法正常通行。",
        "【医保局】您的医保卡已被停用，请点击{url}重新激活，以免影响报销。",
        "您有一笔个税退税{amt}元待领取，请于三日内登录{url}填写银行卡信息办理。",
        "游戏账号{amt}元急售，加我{contact}，到第三方交易平台交易更安全。",
        "你的装备已被买家拍下，需先缴纳{amt}元保证金才能提现货款，请{contact}联系平台客服。",
        "宝贝，我在国外的项目需要周转，你先帮我垫{big}元，下个月连本带利还你，我们很快就能见面了。",
        "【{bank}】您的信用卡额度可提升至{wan}万，点击{url}申请，需先验证卡号密码和验证码。",
        "亲爱的，我发现一个博彩网站有漏洞，稳赚不赔，我带你一起玩，先充{amt}试试。",
        "您的社保卡即将过期，需更换新卡，请{contact}办理，办理时需提供银行卡及验证码。",
    ),
}

# --- benign: the same words in real notifications, warnings and everyday talk -------------

_BENIGN: tuple[str, ...] = (
    "【{courier}】您的快递已到{station}，取件码{code}，请及时领取。",
    "【{bank}】您尾号{n4}的储蓄卡今日收入人民币{amt}元，活期余额请登录手机银行查询。",
    "验证码{code}，您正在登录{platform}，请勿泄露给他人，如非本人操作请忽略。",
    "【{platform}】您的退款{amt}元已原路退回，预计1-3个工作日到账。",
    "警方提醒：凡是要求刷单返利、先垫付后返佣的都是诈骗，千万不要轻信。",
    "国家反诈中心提示：公检法机关不会通过电话办案，更没有所谓的“安全账户”。",
    "朋友圈又有人发刷单兼职，大家千万别信，我同事上个月被骗了{amt}。",
    "我在{platform}申请了退款，客服说三个工作日内到账，等等看吧。",
    "买的{item}有点质量问题，联系了{platform}客服，已经给我换货了，态度还挺好。",
    "这个月工资到账{amt}，存了一半，剩下的交房租。",
    "炒股亏了不少，以后还是老老实实买基金吧。",
    "想问下大家现在{bank}的房贷利率是多少？准备明年买房。",
    "{city}公安局户籍科周六上班吗，想去给孩子办身份证。",
    "今天社区民警来小区做反诈宣传，发了好多小册子。",
    "接到一个自称{platform}客服的电话说要给我退款，我直接挂了，官方退款根本不用加微信。",
    "提醒家里老人：陌生人让你转账、说你涉嫌{crime}的，一律是骗子，直接挂电话报警。",
    "快递员打电话说{item}放{station}了，下班顺路去拿。",
    "今天股市大涨，我的基金终于回本了，开心。",
    "兼职家教一小时{small}块，周末两节课，挺适合学生的。",
    "新买的{item}到了，和图片一样，好评。",
    "{platform}的优惠券快过期了，记得今天用掉。",
    "昨天去银行办了张新卡，柜员提醒不要把验证码告诉任何人。",
    "ETC装好了，以后过收费站方便多了。",
    "医保报销比例今年提高了，看病能省不少钱。",
    "个税APP上今年退税{small}块，已经到账了，虽然不多也挺开心。",
    "老板让我明天带上报销单去他办公室签字。",
    "我换手机号了，新号码是{phone}，大家存一下。",
    "游戏里抽到了新皮肤，这把手气不错。",
    "下午在{platform}直播间抢到了半价的{item}。",
    "学校开反诈主题班会，老师讲了好几个校园贷的真实案例。",
    "车贷还剩{n}期就还完了，终于要解放了。",
    "{city}今天下雨了，出门记得带伞。",
    "客服回复太慢了，等了半小时才有人理我，不过问题最后解决了。",
    "看新闻说{city}破获了一个{crime}团伙，抓了几十个人。",
    "单位组织体检，下周三上午空腹去医院。",
    "朋友开了家网店，帮忙转发一下，卖的是自己家种的橙子。",
    "你好，我是{platform}的商家，您的{item}已经发货，单号在订单里可以查到，有问题随时留言。",
    "【{platform}】您的订单已签收，如对商品满意请给个好评，感谢支持。",
    "这次理财到期收益{amt}，比存定期多一点点。",
    "妈，我到学校了，放心吧，钱够花。",
    "周末聚餐的地址我发群里了，没进群的{contact}拉你。",
    "活动照片都上传了，链接{url}，自己下载。",
    "我们店周年庆全场八折，老顾客{contact}可以提前预订。",
    "拼单买水果，一人{small}块，想要的{contact}。",
    "二手{item}转让，九成新，{amt}元自提，有意{contact}。",
    "中奖了！公司年会抽到了{prize}，今年运气爆棚。",
    "孩子学校要交{small}元资料费，在家长群里接龙。",
    "我是新来的{name}老师，以后数学课由我负责，有问题可以{contact}。",
)


def vary_punctuation(text: str, rng: random.Random) -> str:
    """The spacing and punctuation real Chinese messages vary in (half-width commas, endings)."""
    if rng.random() < 0.15:
        text = text.replace("，", ",")
    if rng.random() < 0.1:
        text = text.rstrip("。") + rng.choice(("！", "！！", "~", ""))
    return text


def _fill(template: str, rng: random.Random) -> str:
    return vary_punctuation(template.format(**slots(rng)), rng)


def _trigrams(text: str) -> set[str]:
    text = "".join(text.split())
    return {text[i : i + 3] for i in range(max(0, len(text) - 2))}


def unique(
    make: Callable[[random.Random], tuple[str, K]], count: int, rng: random.Random
) -> Iterator[tuple[str, K]]:
    """Up to ``count`` of ``make``'s (text, tag) pairs with distinct texts, in draw order (at
    most ``20 × count`` draws)."""
    seen: set[str] = set()
    tries = 0
    while len(seen) < count and tries < count * 20:
        tries += 1
        text, tag = make(rng)
        if text not in seen:
            seen.add(text)
            yield text, tag


def draw(
    harm: dict[str, tuple[str, ...]],
    benign: tuple[str, ...],
    fill: Callable[[str, random.Random], str],
    harm_count: int,
    benign_count: int,
    seed: int,
) -> tuple[list[tuple[str, str]], list[str]]:
    """``(harm as (text, kind), benign texts)`` from template tables, deterministic for ``seed``:
    each harm text from a kind drawn uniformly, then one of its templates, filled by ``fill``."""
    rng = random.Random(seed)
    kinds = sorted(harm)

    def harmful(r: random.Random) -> tuple[str, str]:
        kind = r.choice(kinds)
        return fill(r.choice(harm[kind]), r), kind

    def ordinary(r: random.Random) -> tuple[str, str]:
        return fill(r.choice(benign), r), "benign"

    harms = list(unique(harmful, harm_count, rng))
    benigns = [t for t, _ in unique(ordinary, benign_count, rng)]
    return harms, benigns


def generate(
    scam_count: int = SCAM_COUNT, benign_count: int = BENIGN_COUNT, seed: int = SEED
) -> tuple[list[tuple[str, str]], list[str]]:
    """``(scams as (text, pattern), benign texts)``, deterministic for ``seed``."""
    return draw(_SCAM, _BENIGN, _fill, scam_count, benign_count, seed)


def far_from(texts: list[str], others: list[str], limit: float = GOLDEN_SIMILARITY) -> list[bool]:
    """For each text, whether its trigram Jaccard with every one of ``others`` is below ``limit``."""
    other_grams = [g for g in (_trigrams(o) for o in others) if g]
    out = []
    for text in texts:
        grams = _trigrams(text)
        out.append(all(len(grams & g) / max(1, len(grams | g)) < limit for g in other_grams))
    return out


TEMPLATE_COUNT = sum(len(v) for v in _SCAM.values()) + len(_BENIGN)
