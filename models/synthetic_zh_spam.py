"""Chinese spam (unsolicited bulk promotion), and the ordinary messages that share its words.

No licensable set in the data directory has Chinese spam: the spam sets are English SMS and
YouTube comments, so the models had nothing to learn 回T退订 or 加V拿货 from, and the golden
Chinese spam texts went unflagged. This module writes the register a platform sees: retail and
service promotion SMS with an opt-out line, 微商 (WeChat resellers) recruiting buyers and
agents, grey services (invoices, certificates, fans and views for sale), course and real-estate
ads, private game servers and boosting, and comment spam (follow-for-follow, "see my profile").

The other side, as hard negatives: transactional notices (orders, bills, appointments,
verification codes), people talking about sales, courses and games, complaints about spam that
quote it, and a shop answering its own customer. Without them the fast tier would learn that
【brand】, 优惠, 关注 or 课程 are spam.

Labels: spam means unsolicited bulk promotion, not fraud (``models/synthetic_zh.py`` writes
fraud): promotion is spam 1 and scam 0; a grey service (a fake invoice, a forged certificate)
is spam 1 with scam unknown, because some are a fraud and some deliver; every benign text is all
0. Everything was written by the flagstream team for this purpose (CC0), every name, sum, id and
link drawn at random. They are training rows only; the golden Chinese spam texts
(``models/golden``) measure whether they carry over, and the loader drops any generated text
within :data:`models.synthetic_zh.GOLDEN_SIMILARITY` of a golden one.
"""

from __future__ import annotations

import random

from models.synthetic_zh import Slots, draw, slots, vary_punctuation

SEED = 20261206
SPAM_COUNT = 2000
BENIGN_COUNT = 2000

_SHOPS = (
    "优品汇",
    "佳佳母婴",
    "鲜果时光",
    "名品折扣店",
    "蜜雪美妆",
    "悦动健身",
    "老街火锅",
    "星辰数码",
    "禾丰家居",
    "一鸣茶饮",
    "乐购超市",
    "小象鲜花",
)
_GOODS = (
    "面膜",
    "护肤套装",
    "减肥茶",
    "茶叶",
    "白酒",
    "阿胶",
    "大闸蟹",
    "月饼礼盒",
    "名牌包包",
    "保健品",
    "运动鞋",
    "原单手表",
)
_COURSES = ("考研", "公务员", "雅思", "少儿英语", "会计证", "教师资格证", "Python编程", "驾考")
_GAMES = ("传奇", "魔域", "奇迹", "热血江湖", "征途", "梦幻西游")
_ESTATES = ("御景华庭", "滨江壹号", "翡翠湾", "金地名苑", "万科城", "中央公园")
_UNSUB = ("回T退订", "退订回T", "拒收请回复R", "回TD退订", "退订回N", "回复TD退订")
_OFF = ("3", "4", "5", "6", "6.8", "7", "7.5", "8", "8.8")
_MONTHS = tuple(str(m) for m in range(1, 13))


def _spam_slots(rng: random.Random) -> Slots:
    out = slots(rng)
    out.update(
        shop=rng.choice(_SHOPS),
        goods=rng.choice(_GOODS),
        course=rng.choice(_COURSES),
        game=rng.choice(_GAMES),
        estate=rng.choice(_ESTATES),
        unsub=rng.choice(_UNSUB),
        off=rng.choice(_OFF),
        month=rng.choice(_MONTHS),
        day=str(rng.randint(1, 28)),
        fans=rng.choice(("1000", "5000", "1万", "10万")),
    )
    return out


# --- spam: one list of templates per kind ---------------------------------------------------

_SPAM: dict[str, tuple[str, ...]] = {
    "retail": (
        "【{shop}】{month}月{day}日店庆狂欢，全场低至{off}折，满{amt}减{small}，进店即送好礼！{unsub}",
        "【{platform}】亲爱的会员，您有{small}元无门槛券已到账，今晚24点失效，速抢{url} {unsub}",
        "【{shop}】新品上市！{goods}买一送一，仅限前{n}0名，地址：{city}市中心步行街{n}号。{unsub}",
        "【{shop}】尊敬的顾客，年终大促最后{n}天，会员专享{off}折，到店出示短信再减{small}元。{unsub}",
        "{shop}感恩回馈：充{amt}送{small}，办卡即享终身{off}折，详询{phone}。{unsub}",
        "【{platform}】双11预售开启，定金{small}抵{amt}，爆款{goods}限量抢购 {url} {unsub}",
        "【{shop}】周末特惠！会员日全场{off}折，第二件半价，不要错过哦~{unsub}",
        "【{platform}】您关注的{item}降价啦！现价仅{small}元，库存不多，点击{url}立即抢购。{unsub}",
        "【{shop}】开业大吉！{city}新店开张，前三天进店免费领{goods}小样，{unsub}",
        "老客户专享：{goods}清仓甩卖，原价{amt}现价{small}，数量有限，先到先得！{contact}",
        "【{shop}】生日快乐！送您一张{small}元生日券，本月内到店消费可用。{unsub}",
        "【{platform}】超级品牌日，{goods}直降{small}元，跨店每满{amt}减{small}，戳{url}",
    ),
    "reseller": (
        "一手货源{goods}，厂家直供，零囤货一件代发，招代理，{contact}",
        "宝妈们看过来，正品{goods}批发价拿货，量大从优，有意{contact}",
        "朋友圈爆款{goods}，工厂价{small}元一盒，全国包邮，要的{contact}",
        "招{goods}代理，不压货，一件代发，拿货价是零售价的{off}折，{contact}详谈",
        "高仿{goods}，原单品质，支持验货，私聊{contact}看实拍图",
        "{goods}团购价{small}元，今晚截单，明天统一发货，需要的{contact}",
        "正品{goods}低价出，比专柜便宜一半，{contact}了解",
    ),
    "grey": (
        "代开各类发票，增值税专票普票均可，点数低，可验证后付款，{contact}",
        "专业办理各类证件，毕业证、学位证、驾驶证，{n}天出证，{phone}",
        "刻章办证，全城最快，当天取，联系{phone}",
        "涨粉{fans}只要{small}元，真人粉不掉粉，另有点赞评论播放量，{contact}",
        "代刷好评、代刷销量，店铺快速起量，价格美丽，{contact}",
        "信用卡代还代办，额度高下卡快，手续简单，{contact}",
        "{city}代开住宿费餐饮费发票，{phone}，可先开后付",
        "各类账号出售，老号实名，可换绑，{contact}",
    ),
    "ads": (
        "【{course}培训】名师面授，不过退费，现在报名立减{amt}元，免费试听请致电{phone}。{unsub}",
        "{course}冲刺班火热招生中，{n}天突破高分，0元试听，{contact}",
        "【{estate}】{city}地铁口精装现房，首付{wan}万起，买房送车位，热线{phone}。{unsub}",
        "【{estate}】城芯湖景大宅，限时{off}折特惠，{month}月{day}日盛大开盘，{phone}。{unsub}",
        "【{shop}】暑期游泳健身私教课，{small}元体验三节，名额有限，{phone}",
        "家电清洗、管道疏通、开锁换锁，{city}全城上门，{phone}",
        "装修找我们！{city}本地装修公司，全包{small}万起，免费量房设计，{phone}",
        "本公司常年提供搬家、保洁、空调维修服务，价格优惠，{phone}",
    ),
    "games": (
        "{game}新区今晚{hour}点火爆开启，一刀{n}99级，爆率翻倍，下载{url}",
        "{game}私服，单职业超变，上线送VIP{n}，充值1:1000，{url}",
        "游戏代练代充，{game}全区全服，价格最低，{contact}",
        "{game}高爆版，打金能提现，每天轻松玩，官网{url}",
    ),
    "social": (
        "互关互赞，回关必回，有关必回！",
        "求互粉，关注我秒回关，一起涨粉{fans}！",
        "想要资料的看我主页，私信领取，免费分享~",
        "主页有福利，手慢无，速看！",
        "关注我，每天分享{goods}好物，{contact}领优惠券",
        "同城交友，真实靠谱，{url}",
        "点我头像看更多精彩内容，{contact}",
        "兄弟们，{game}礼包码在我主页置顶，先到先得",
    ),
}

_GREY = "grey"  # its rows: spam 1, scam unknown

# --- benign: the same words in notices, talk and complaints --------------------------------

_BENIGN: tuple[str, ...] = (
    "【{platform}】您的订单已发货，{courier}快递单号{group}{n4}，请留意查收。",
    "【{bank}】您尾号{n4}的信用卡本期账单{amt}元，最后还款日{month}月{day}日。",
    "【{shop}】您预约的{month}月{day}日{hour}点服务已确认，如需改期请提前一天联系门店。",
    "【{platform}】验证码{code}，用于绑定手机号，{n}分钟内有效，请勿告诉他人。",
    "【{city}市人民医院】您已成功预约{month}月{day}日上午门诊，请携带身份证按时就诊。",
    "【{platform}】您的退款申请已通过，{amt}元将原路退回。",
    "双十一买了一堆{goods}，满减算下来确实便宜了不少。",
    "楼下{shop}在打折，全场{off}折，下班一起去逛逛？",
    "又收到代开发票的短信了，烦死了，已经拉黑举报。",
    "每天都有好几条回T退订的广告短信，真想把号码换了。",
    "评论区全是互关互赞的，看得头疼。",
    "有人报过{course}培训班吗？想听听真实评价再决定。",
    "今年{course}终于考过了，感谢这一年坚持下来的自己。",
    "今晚{game}开黑吗？新区人少，练级快。",
    "小时候玩{game}玩到半夜，现在想起来还挺怀念的。",
    "亲，这款{goods}有现货的，今天下单明天就能发出哦。",
    "您好，您咨询的{goods}尺码偏小，建议拍大一码，有问题随时问我。",
    "谢谢大家关注，视频我会继续更新的。",
    "这家{shop}的东西不错，上次买的{goods}很好用，推荐给你。",
    "朋友推荐的{course}老师讲得很清楚，我打算报个周末班。",
    "看了{estate}的样板间，离地铁近，就是首付还差一点。",
    "房贷终于批下来了，下个月去{estate}收房。",
    "家里水管漏了，物业说明天上午派人来修。",
    "我们公司报销需要正规发票，记得找商家开。",
    "驾照考过了，下周去车管所拿证。",
    "最近在减肥，不吃零食了，每天跑步{n}公里。",
    "月饼礼盒收到了，谢谢公司的中秋福利。",
    "这届双十一规则太复杂了，算了半天满减也没搞明白。",
    "朋友圈卖{goods}的越来越多了，我一般直接屏蔽。",
    "新开的{shop}排队好长，等了半小时才吃上。",
    "健身房年卡到期了，在犹豫要不要续。",
    "群公告：本周六下午{hour}点小区活动中心开业主大会，请大家准时参加。",
    "【{city}地铁】{month}月{day}日起{n}号线运营时间延长至23点，请乘客合理安排出行。",
    "{platform}客服回复说优惠券过期了不能补，有点可惜。",
    "我把资料整理好了，发你邮箱了，注意查收。",
    "关注了好久的博主终于更新了，太开心了。",
    "店里{goods}卖完了，老板说下周才补货。",
    "我在闲鱼上把旧{item}卖了，{small}块钱，总比放着吃灰强。",
)


def _fill(template: str, rng: random.Random) -> str:
    return vary_punctuation(template.format(**_spam_slots(rng)), rng)


def generate(
    spam_count: int = SPAM_COUNT, benign_count: int = BENIGN_COUNT, seed: int = SEED
) -> tuple[list[tuple[str, str]], list[str]]:
    """``(spam as (text, kind), benign texts)``, deterministic for ``seed``."""
    return draw(_SPAM, _BENIGN, _fill, spam_count, benign_count, seed)


def is_grey(kind: str) -> bool:
    """Whether spam of ``kind`` sells a grey service (scam unknown rather than 0)."""
    return kind == _GREY


TEMPLATE_COUNT = sum(len(v) for v in _SPAM.values()) + len(_BENIGN)
