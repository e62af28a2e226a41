"""Hate without slurs, plain insults, and the benign posts that share their words: slot templates.

The licensable hate and abuse sets in the data directory are slur-centred: most of their hate
positives carry a slur or a profanity, so a model trained on them learns the words, not the
attack. A generalisation about a protected group ("<group> are parasites", "<group> should not
be allowed to vote") or an insult in plain words ("you are a spineless coward") passes it. This
module writes both registers in English and Chinese from the functional categories of hate that
HateCheck (Röttger et al., 2021) and its Chinese counterparts test: derogation by negative
attributes, dehumanisation, exclusion and normative statements, threats, hate phrased as an
opinion or a question; and for abuse, second-person insults with no slur or profanity.

It writes the other side too, as hard negatives, without which a model would learn that naming a
group is hate or that "kill" is abuse: neutral and positive statements about the same groups,
news and facts that name them, counter-speech that quotes an attack to reject it, banter and
praise in insulting words ("you absolute legend"), sport and game violence ("we killed it",
杀疯了), criticism of things rather than people, self-deprecation, 砍价 and other idioms.

Labels follow :mod:`models.data`'s rules: a hate text is hate 1 / toxic unknown; an insult is
toxic 1 / hate 0 (it names no protected characteristic); the contrasts are all 0 and ``hard``.

Written by the flagstream team for this purpose (CC0). Training rows only (``split = "train"``):
no threshold is chosen on them and no card figure counts them; :func:`far_from` (from
:mod:`models.synthetic_zh`) drops any text within its ``GOLDEN_SIMILARITY`` of a golden text.
The golden sets measure whether they carry over; the team that wrote these templates also wrote
the golden texts, so those figures are likely optimistic: the dev and test splits of the
labelled sets (TweetEval hate, HateXplain, EDOS, COLD, ...) are the independent check.
"""

from __future__ import annotations

import random

from models.synthetic_zh import unique, vary_punctuation

SEED = 20261204
COUNTS: dict[str, int] = {"hate": 1500, "insult": 1200, "benign": 2500}
KINDS: tuple[str, ...] = ("hate", "insult", "benign")

# --- English -----------------------------------------------------------------------------------

_EN_GROUPS = (
    "women", "trans people", "gay people", "lesbians", "bisexual people", "black people",
    "disabled people", "Muslims", "Jews", "immigrants", "refugees", "asylum seekers", "Asians",
    "Hindus", "Sikhs", "Roma", "Arabs", "Africans", "Latinos", "foreigners", "migrants",
    "deaf people", "blind people", "autistic people", "old people", "Christians",
    "Catholics", "Somalis", "Turks", "Koreans", "Filipinos", "Brazilians", "single mothers",
)  # fmt: skip
_EN_SINGULAR = (
    "woman", "trans woman", "gay man", "lesbian", "black man", "disabled person", "Muslim",
    "Jew", "immigrant", "refugee", "Hindu", "Sikh", "Arab", "deaf person", "autistic adult",
)  # fmt: skip
_EN_NEG_NOUN = (
    "vermin", "parasites", "animals", "subhuman", "filth", "a disease", "a plague",
    "a cancer on this country", "nothing but criminals", "born liars", "savages", "scum",
    "a burden on the rest of us", "a stain on society", "less than human", "a virus",
    "freeloaders", "a danger to our children", "inferior by nature", "a waste of space",
)  # fmt: skip
_EN_NEG_ADJ = (
    "dirty", "violent", "dishonest", "stupid", "lazy", "disgusting", "useless", "greedy",
    "primitive", "worthless", "sick in the head", "dangerous", "backward", "untrustworthy",
)  # fmt: skip
_EN_HABIT = (
    "lying", "stealing", "begging for handouts", "causing trouble", "playing the victim",
    "taking what isn't theirs", "breeding like rabbits", "scrounging off the state",
)  # fmt: skip
_EN_EXCLUDE = (
    "not be allowed to vote", "be banned from this country", "be kept out of our schools",
    "never be hired", "go back where they came from", "be deported, every last one",
    "be locked up", "not be allowed near children", "lose the right to work here",
    "be kept out of our neighbourhood", "not be allowed to marry", "stay out of politics",
    "be sterilised", "be driven out of town",
)  # fmt: skip
_EN_PLACES = ("our schools", "our streets", "this town", "my shop", "our country", "the office")
_EN_HATE = (
    "{G} are {neg_noun}.",
    "{G} are {neg_noun}, simple as that.",
    "All {G} are {neg_adj}.",
    "{G} are {neg_adj} and always will be.",
    "Honestly, I think {G} are {neg_noun}.",
    "No offence, but {G} are {neg_adj}.",
    "Let's be real: {G} are {neg_noun}.",
    "{G} should {exclude}.",
    "I don't care what anyone says, {G} should {exclude}.",
    "It's time {G} were made to {exclude2}.",
    "{G} don't deserve {deserve}.",
    "Why are {G} always so {neg_adj}?",
    "Have you ever met one of those {G} who wasn't {neg_adj}?",
    "Typical {G}, always {habit}.",
    "Never trust {G}, they're {neg_adj} by nature.",
    "Keep {G} away from {place}.",
    "I would never rent a flat to {G}.",
    "The world would be better off without {G}.",
    "We need to get rid of {G} once and for all.",
    "Somebody should teach those {G} a lesson they won't forget.",
    "{G} will get what's coming to them, just wait.",
    "I can't stand {G}. They're {neg_noun}.",
    "Every {one} I've met has been {neg_adj}.",
    "You can't be a {one} and a decent human being.",
    "A {one} as a manager? They're all {neg_adj}.",
    "{G} ruin everything they touch.",
    "{G} are taking over {place} and it makes me sick.",
    "Those {G} are multiplying like rats.",
)
_EN_DESERVE = ("to live here", "any respect", "equal rights", "a vote", "our jobs", "to exist")
_EN_EXCLUDE2 = ("leave", "stay indoors", "pay for what they did", "disappear")

_EN_INSULT_NP = (
    "a complete idiot", "an absolute moron", "a pathetic loser", "a worthless piece of garbage",
    "the dumbest person on this site", "a disgusting pig", "a brainless clown",
    "a spineless coward", "an embarrassment to your family", "a waste of oxygen",
    "a total joke", "a braindead troll", "a lying weasel", "a useless lump", "an ignorant fool",
    "a sad little man", "a nasty piece of work", "a clueless muppet", "a smug halfwit",
    "a lowlife", "a creep", "a pitiful excuse for a human being",
)  # fmt: skip
_EN_INSULT_ADJ = (
    "stupid", "dense", "pathetic", "ugly", "useless", "clueless", "dumb", "worthless",
    "thick", "spineless", "repulsive", "ignorant", "insufferable",
)  # fmt: skip
_EN_INSULT_NOUN = ("troll", "clown", "loser", "creep", "idiot", "moron", "fool", "coward", "muppet")
_EN_NAMES = ("Dave", "Karen", "Mike", "Sarah", "Tom", "Jess", "Kevin", "Linda", "Chris", "Priya")
_EN_INSULT = (
    "You're {np}.",
    "You are {np} and you know it.",
    "Honestly you are {np}.",
    "@{user} you're {np}.",
    "Shut up, you {adj} {noun}.",
    "You're so {adj} it hurts to read your posts.",
    "Go crawl back under your rock, you {noun}.",
    "Get lost, {noun}. Nobody asked for your opinion.",
    "Nobody wants you here, you {adj} {noun}.",
    "What a {adj} {noun} you are.",
    "{name} is {np}, don't listen to a word.",
    "My boss is {np}.",
    "Only {np} would write something this {adj}.",
    "Do everyone a favour and stop talking, you {noun}.",
    "You've got the brains of a goldfish, you {noun}.",
    "Your mum must be so ashamed of you, you {adj} {noun}.",
    "I've met smarter rocks than you, {name}.",
    "Are you really this {adj} or do you practise?",
    "Crawl back to whatever hole you came from.",
    "Nobody likes you, {name}. Nobody ever has.",
    "You {adj} little {noun}, you'll never amount to anything.",
    "Every word out of your mouth is garbage, you {noun}.",
)

_EN_POSITIVE = (
    "deserve the same rights as everyone else", "are part of our community",
    "have lived in this town for generations", "are welcome here", "contribute so much to this city",
    "face discrimination far too often", "should be treated with respect",
    "are just people trying to get on with their lives", "make this country better",
    "run half the small businesses on my street", "have every right to speak up",
)  # fmt: skip
_EN_BENIGN = (
    "{G} {positive}.",
    "Of course {G} {positive}.",
    "The survey asked {G} about their experience at work.",
    "{n} {G} joined the march through the city centre on Saturday.",
    "A new report looks at how {G} are portrayed in the media.",
    "The council is opening a support centre for {G}.",
    "My neighbours are {G} and they are lovely.",
    "As a {one}, I'm proud of who I am.",
    "I'm a {one} and I work as a nurse.",
    "Saying {G} are {neg_noun} is hateful and wrong.",
    "I'm sick of people claiming {G} are {neg_adj}. It's just bigotry.",
    "If you think {G} are {neg_adj}, you need to meet more people.",
    "Posts calling {G} {neg_noun} should be reported, not shared.",
    "He said {G} should {exclude}, and I told him that's disgusting.",
    "The history lesson was about how {G} were persecuted in the past.",
    "You absolute legend, that was hilarious.",
    "You crazy genius, how did you even do that?",
    "Shut up, that's amazing news! Congratulations!",
    "I'm such an idiot, I left my keys at home again.",
    "I feel so stupid for missing the bus this morning.",
    "We killed it at the gig last night.",
    "That drummer absolutely destroyed the solo.",
    "Our defence destroyed them in the second half.",
    "I'm going to murder this burger.",
    "That exam killed me, I need a nap.",
    "Kill the lights on your way out, please.",
    "She slayed that presentation.",
    "This traffic is killing me.",
    "The referee's decision was ridiculous, worst call of the season.",
    "That film was garbage, two hours of my life I won't get back.",
    "This policy is stupid and will cost the city money.",
    "The update broke my phone, what a useless piece of software.",
    "My cat is a little monster, she knocked everything off the table.",
    "You cheeky sod, you ate the last biscuit!",
    "Get lost in a good book this weekend.",
    "Nobody asked, but here's my favourite pasta recipe.",
    "Go crawl into bed early tonight, you've earned it.",
    "{name}, you're a star, thanks for covering my shift.",
    "My brother is a clown, he had us all laughing at dinner.",
    "Stop being so hard on yourself, you did great.",
)

# --- Chinese -----------------------------------------------------------------------------------

_ZH_GROUPS = (
    "女人", "女的", "男人", "同性恋", "跨性别者", "残疾人", "黑人", "穆斯林", "外地人",
    "农村人", "河南人", "东北人", "新疆人", "少数民族", "基督徒", "日本人", "印度人",
    "非洲人", "老年人", "精神病人", "艾滋病人", "单亲妈妈", "上海人", "广东人", "湖南人",
    "越南人", "藏族人", "回族人", "聋哑人", "盲人", "外国人", "移民",
)  # fmt: skip
_ZH_NEG_NOUN = (
    "垃圾", "人渣", "蛀虫", "寄生虫", "骗子", "小偷", "低等人", "社会的毒瘤", "害虫",
    "畜生", "废物", "劣等民族", "瘟神", "累赘", "祸害", "下等人",
)  # fmt: skip
_ZH_NEG_ADJ = (
    "没素质", "又脏又懒", "不讲理", "天生就坏", "脑子不正常", "野蛮", "贪得无厌", "愚蠢",
    "恶心", "靠不住", "危险", "落后",
)  # fmt: skip
_ZH_EXCLUDE = (
    "全部赶出去", "滚回老家", "统统关起来", "全都遣返", "禁止入境", "不准进我们小区",
    "不许当老师", "别出来丢人", "不配上大学", "不准结婚", "都不该有选举权", "别进城",
)  # fmt: skip
_ZH_HATE = (
    "{G}都是{neg_noun}。",
    "{G}都是{neg_noun}，没一个例外。",
    "说实话，{G}就是{neg_noun}。",
    "{G}一个个都{neg_adj}。",
    "{G}就是{neg_adj}，这是天生的。",
    "{G}应该{exclude}。",
    "我觉得{G}就应该{exclude}。",
    "{G}不配活在这个世界上。",
    "离{G}远点，他们{neg_adj}。",
    "为什么{G}总是这么{neg_adj}？",
    "凭什么让{G}跟我们享受一样的待遇？",
    "最讨厌{G}了，{neg_adj}。",
    "{G}就是社会的负担，养着他们有什么用。",
    "招聘的时候千万别要{G}，{neg_adj}。",
    "{G}越来越多，这个城市迟早被他们毁了。",
    "这些{G}就该好好教训一顿。",
    "没有{G}的世界会更好。",
    "{G}生的孩子也都是{neg_noun}。",
    "租房子千万别租给{G}。",
    "{G}骨子里就是{neg_noun}。",
    "我们这儿不欢迎{G}，趁早滚。",
    "{G}就跟老鼠一样，到处繁殖。",
)

_ZH_INSULT_NP = (
    "废物", "蠢货", "傻子", "白痴", "脑残", "垃圾", "智障", "小丑", "窝囊废", "神经病",
    "没脑子的东西", "饭桶", "蠢猪", "丑八怪", "跳梁小丑", "马屁精", "loser", "键盘侠",
)  # fmt: skip
_ZH_INSULT = (
    "你就是个{np}。",
    "你真是个{np}，无药可救。",
    "闭嘴吧你个{np}。",
    "滚远点，{np}。",
    "你算什么东西，也配在这说话？",
    "你脑子是不是有病？",
    "看你那副{adj}样，真让人恶心。",
    "你这种人活着就是浪费空气。",
    "@{user} 你就是个{np}，别在这丢人了。",
    "你是不是没长脑子？说的全是屁话。",
    "真不知道你爸妈怎么养出你这种{np}。",
    "楼主就是个{np}，发的什么玩意儿。",
    "你这个{np}，除了会喷还会干什么？",
    "长得丑就算了，脑子还这么蠢。",
    "谁看见你都想吐，赶紧消失吧。",
    "一天到晚装什么装，{np}一个。",
    "你这智商也就配{low}。",
    "像你这么{adj}的人我还是第一次见。",
    "{name}就是个{np}，大家别理他。",
)
_ZH_INSULT_ADJ = ("窝囊", "蠢", "贱", "丑", "恶心", "没出息", "猥琐", "无能")
_ZH_LOW = ("扫大街", "在家啃老", "当个笑话", "给人提鞋")
_ZH_NAMES = ("小王", "老李", "张伟", "刘洋", "陈静", "赵磊", "那个主播", "隔壁老周")
_ZH_POSITIVE = (
    "也应该享有平等的权利", "是我们社区的一分子", "在这座城市生活了几十年", "为社会做了很多贡献",
    "应该得到尊重", "经常受到不公平的对待", "和大家一样努力生活", "也有表达意见的权利",
)  # fmt: skip
_ZH_BENIGN = (
    "{G}{positive}。",
    "其实{G}{positive}。",
    "我们公司有很多{G}同事，大家相处得很好。",
    "这篇报道讲的是{G}在就业中遇到的困难。",
    "社区新开了一个为{G}服务的中心。",
    "说{G}都是{neg_noun}就是地域黑和歧视，太过分了。",
    "网上那些说{G}{neg_adj}的帖子应该举报。",
    "别再传{G}都是{neg_noun}这种谣言了。",
    "历史课讲了{G}过去受到的迫害。",
    "老板，能不能再砍点价？便宜二十块我就买了。",
    "这个价格太高了，我再砍一刀。",
    "砍价砍到老板都笑了，最后便宜了五十块。",
    "{name}特别会砍价，买菜从来不吃亏。",
    "今天打排位杀疯了，连赢八把。",
    "这局我一个人干掉了五个，太爽了。",
    "笑死我了，你也太会说了吧。",
    "你真是个天才，这都能想到。",
    "太牛了吧，这操作绝了。",
    "我真是个傻子，又忘带钥匙了。",
    "累死了，今天加班到十点。",
    "气死我了，快递又送错地方了。",
    "这部电影拍得太烂了，浪费我两个小时。",
    "这个政策真蠢，根本没考虑实际情况。",
    "这软件又闪退了，垃圾更新。",
    "我家猫简直是个小魔王，把桌上东西全推下去了。",
    "打死我也不说他的秘密。",
    "今晚杀鸡做个大盘鸡。",
    "记得给电脑装个杀毒软件。",
    "终于把这道难题干掉了。",
    "{name}你真是我的救星，谢谢你帮我代班。",
    "我弟就是个活宝，吃饭的时候把我们都逗笑了。",
    "别对自己那么苛刻，你已经做得很好了。",
    "这支球队的防守把对手打爆了。",
    "这首歌太上头了，我要循环一百遍。",
)


# the slot pools of each language's templates; a text draws one value from each, in this order
_POOLS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "G": _EN_GROUPS,
        "one": _EN_SINGULAR,
        "neg_noun": _EN_NEG_NOUN,
        "neg_adj": _EN_NEG_ADJ,
        "habit": _EN_HABIT,
        "exclude": _EN_EXCLUDE,
        "exclude2": _EN_EXCLUDE2,
        "deserve": _EN_DESERVE,
        "place": _EN_PLACES,
        "np": _EN_INSULT_NP,
        "adj": _EN_INSULT_ADJ,
        "noun": _EN_INSULT_NOUN,
        "name": _EN_NAMES,
        "user": ("mark_t", "jen88", "the_real_sam", "kb_writes", "ollie_p"),
        "positive": _EN_POSITIVE,
        "n": ("40", "200", "300", "1500", "5000"),
    },
    "zh": {
        "G": _ZH_GROUPS,
        "neg_noun": _ZH_NEG_NOUN,
        "neg_adj": _ZH_NEG_ADJ,
        "exclude": _ZH_EXCLUDE,
        "np": _ZH_INSULT_NP,
        "adj": _ZH_INSULT_ADJ,
        "low": _ZH_LOW,
        "name": _ZH_NAMES,
        "user": ("小鱼儿", "momo", "阿杰", "今天不加班"),
        "positive": _ZH_POSITIVE,
    },
}


TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("en", "hate"): _EN_HATE,
    ("en", "insult"): _EN_INSULT,
    ("en", "benign"): _EN_BENIGN,
    ("zh", "hate"): _ZH_HATE,
    ("zh", "insult"): _ZH_INSULT,
    ("zh", "benign"): _ZH_BENIGN,
}


def _fill(lang: str, template: str, rng: random.Random) -> str:
    text = template.format(**{slot: rng.choice(pool) for slot, pool in _POOLS[lang].items()})
    if lang == "zh":
        return vary_punctuation(text, rng)
    text = text[0].upper() + text[1:]
    # the casing and punctuation real posts vary in
    if rng.random() < 0.15:
        text = text.lower()
    if rng.random() < 0.1:
        text = text.rstrip(".") + rng.choice(("!", "!!", "", " smh"))
    return text


def generate(
    counts: dict[str, int] | None = None, seed: int = SEED
) -> dict[tuple[str, str], list[str]]:
    """``{(lang, kind): texts}`` for kind in hate, insult, benign; deterministic for ``seed``."""
    counts = COUNTS if counts is None else counts
    rng = random.Random(seed)
    out: dict[tuple[str, str], list[str]] = {}
    for (lang, kind), templates in TEMPLATES.items():

        def make(
            r: random.Random, lang: str = lang, templates: tuple[str, ...] = templates
        ) -> tuple[str, None]:
            return _fill(lang, r.choice(templates), r), None

        out[(lang, kind)] = [text for text, _ in unique(make, counts[kind], rng)]
    return out


TEMPLATE_COUNT = sum(len(t) for t in TEMPLATES.values())
