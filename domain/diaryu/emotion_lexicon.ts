/**
 * Babble's built-in emotion lexicon for DiaryU, written for this project
 * (not taken from a research lexicon), for diary and Weibo/WeChat-style
 * writing in Chinese and English: everyday words, internet slang, emoji,
 * WeChat/Weibo bracket tags and a few kaomoji.
 *
 * Compact data, parsed once by emotion.ts: each row is
 * `[class, strength, words]`, the words separated by whitespace. In an
 * English phrase `+` joins the words (`can't+wait`). Classes are the seed's
 * table: 0 静 Peaceful, 1 乐 Happy, 2 好 Satisfied, 3 怒 Angry, 4 哀 Sad,
 * 5 惧 Worried, 6 恶 Disgusted, 7 惊 Surprised. Strength: 0.5 faint, 1 mild
 * or ambiguous, 2 clear, 3 intense. Strength 0 marks a neutral word: it
 * carries no emotion but, matched whole, keeps the emotion characters inside
 * it from matching (天气 is not 气, 可乐 is not 乐).
 *
 * English words are listed in their base form and the common irregular or
 * frequent forms; emotion.ts strips regular endings (-s, -ed, -ing, -ly, -er,
 * -est, -ness) when a word is not listed as written.
 */

/** One row of the lexicon: class 0-7, strength, whitespace-separated words. */
export type EmotionWordRow = readonly [number, number, string];

/** Emotion words by class and strength. */
export const EMOTION_WORDS: readonly EmotionWordRow[] = [
  // ── 0 静 Peaceful: calm, ordinary, nothing special ──────────────────────
  [
    0,
    2,
    `平静 宁静 淡定 平淡 心如止水 波澜不惊 岁月静好 安然 淡然 恬静 静谧 心平气和 风平浪静 平平淡淡 平平静静 安安静静 不悲不喜
    无悲无喜 云淡风轻 佛系 心静 内心平静 顺其自然 随遇而安 泰然 泰然自若 平心静气 与世无争 淡泊 清静 安宁 祥和 平和 平淡无奇
    平静如水 心无波澜 安之若素 从容不迫 气定神闲 宠辱不惊`,
  ],
  [
    0,
    1,
    `安静 平常 平凡 普通 日常 一般 一般般 还行 还好 凑合 照常 如常 照旧 依旧 无所谓 放空 发呆 安稳 从容 清闲 悠闲 悠哉
    慢悠悠 懒洋洋 平稳 老样子 平平无奇 普普通通 按部就班 一如既往 无事 没事 没关系 不要紧 还可以 马马虎虎 都行 无感 冷静 镇定
    沉着 放松 休息 困 犯困 困了 慵懒 闲适 散心 静静 无波无澜 没什么特别 没啥特别 没什么大不了 就这样吧 随缘 躺平 摸鱼 寻常
    稀松平常 习以为常`,
  ],
  [
    0,
    2,
    `calm peaceful serene tranquil uneventful composed unbothered relaxed
    zen nothing+special same+as+always same+old+same+old just+another+day
    at+peace mellow placid`,
  ],
  [
    0,
    1,
    `quiet ordinary normal usual routine fine okay ok alright meh whatever
    average regular typical plain neutral steady stable mundane so-so
    chill sleepy rest resting rested unwind unwinding nap napped as+usual
    not+much nothing+much as+always low-key lowkey laid-back easygoing
    nothing+new same+routine all+good no+big+deal`,
  ],
  [
    0,
    0,
    `couldn't+stop can't+stop cannot+stop could+not+stop can't+help
    couldn't+help not+to`,
  ],
  [0, 0.5, `好的 好了 嗯 嗯嗯 行吧 好吧 ok的 okk`],
  // Neutral words (strength 0) that hold emotion characters.
  [
    0,
    0,
    `天气 空气 力气 客气 运气 脾气 气温 气候 口气 勇气 名气 福气 香气 气球 气味 蒸汽 煤气 暖气 冷气 气质 气氛 气息 元气
    底气 人气 大气 志气 骨气 节气 喜气 学生 大学生 中学生 小学生 研究生 留学生 医学生 学生会 好像 好多 好几 好久 好些 好比
    好似 好歹 好处 爱好 只好 正好 刚好 恰好 最好 你好 您好 大家好 早上好 中午好 下午好 晚上好 早安 晚安 好友 好不容易
    不好意思 好意 好汉 问好 讨好 好说 好奇心 好学 好客 好动 好胜 好强 好事者 搞好 做好 弄好 写好 修好 谈好 说好 订好 约好
    想好 定好 办好 选好 装好 收好 准备好 安排好 收拾好 处理好 好不好 好吗 好嘛 好么 好在哪 可乐 音乐 乐器 乐队 乐团 俱乐部
    乐高 娱乐 乐山 乐谱 声乐 器乐 乐曲 民乐 恋爱 爱情 爱人 爱国 爱心 热爱国 博爱 亲爱 爱豆 爱奇艺 笑话 玩笑 开玩笑 笑点
    搞笑视频 恐怕 哪怕 怕是 生怕 麻烦你 麻烦您 急救 急诊 紧急 急事 急件 急速 急性 应急 急转弯 辛苦 辛苦了 苦瓜 刻苦 艰苦
    苦力 吃苦 苦练 苦读 苦功 累计 积累 连累 累积 劳累费 日积月累 香港 香蕉 香水 香菜 香肠 香烟 香料 香油 香菇 香味 香皂
    香薰 檀香 甜品 甜点 甜食 甜甜圈 甜度 甜菜 甜玉米 美国 美元 美术 美食 美团 美甲 美容 美发 美颜 美剧 美式 美军 美洲 欧美
    美妆 牛肉 牛奶 牛排 牛仔 蜗牛 牛油 奶牛 牛角 牛年 牛肉面 牛腩 牛蛙 赞助 棒球 冰棒 棒棒糖 球棒 接力棒 棒子 指挥棒 冷酷
    酷暑 元帅 统帅 萌芽 头晕 晕车 晕船 出汗 汗水 流汗 汗衫 可汗 丧失 丧事 丧葬 闷热 喜剧 喜马拉雅 喜酒 喜糖 喜事 喜宴
    恭喜发财 心脏 肝脏 内脏 脏器 臭豆腐 臭氧 差不多 差点 差点儿 出差 时差 差距 相差 差异 误差 偏差 落差 差价 差额 灿烂 痛快
    爽肤水 耶稣 耶鲁 耶诞 哈尔滨 哈佛 哈密瓜 哈士奇 哈萨克 惊蛰 吐司 吞吐 吐露 谈吐 呕心沥血 坑道 水坑 火坑 渣土 豆渣
    蠢蠢欲动 傻瓜相机 烂漫 泪腺 哭腔 悲剧性 怒江 怒放 心花 恨不得 怪不得 巴不得 舍得 不得不 不得已 不同 不断 不少 不久 不管
    不论 不仅 不然 不如 不停 不知道 不知 不禁 不由得 不知不觉 忍不住 不一定 不一样 不对 不用说 不错过 不住 是不是 能不能
    要不要 会不会呢 有没有 对不对 行不行 可不可以 来不及了吧 差不离 少不了 免不了 了不得 不得 不止 不再是 不外乎 不见 不但是
    没错 没准 没准儿 没想过 没多久 没过多久 没关系吧 没法子 没收 没落 淹没 埋没 特别是 别人 分别 区别 级别 别的 性别 别墅
    别说 个别 类别 识别 辨别 鉴别 无论 无数 无线 无人机 无锡 无人 无法无天 无限期 无需 毫无疑问 无疑 非要 非得 是非 非洲
    非法 除非 非遗 无非 莫非 非典 未来 未知 未曾 未婚 未成年 尚未 未读 未接 从未有过 冷却 忘却 退却 却步 了却 但愿 但凡
    虽然说 哪怕是 即使是 太阳 太太 太空 太极 太平 老太太 太子 超市 超过 超出 超越 超人 超车 超时 超重 超速 超标 真相 真理
    真人 认真 天真 真实 真诚 最后 最近 最初 最终 很多 很久 挺身 挺拔 特点 特色 特殊 特地 特意 特价 特征 模特 特产 特斯拉
    老师 老板 老家 老公 老婆 老人 养老 老鼠 死机 死角 死亡率 死者 死刑 死板 死记硬背 死胡同 死磕 打死 装死 死活 好样 好运来
    欢乐谷 欢乐颂 快乐大本营 开心果 开心麻花 心理咨询 差别 不但`,
  ],

  // ── 1 乐 Happy: joy, fun, laughter, excitement ───────────────────────
  [
    1,
    3,
    `狂喜 欣喜若狂 心花怒放 乐开花 喜出望外 喜极而泣 欢天喜地 手舞足蹈 眉开眼笑 兴高采烈 喜气洋洋 笑死 笑死我了 笑疯 笑喷 笑出猪叫
    笑到肚子疼 笑抽 笑岔气 爽翻 爽爆 爽歪歪 嗨翻 狂欢 乐疯 乐坏 乐翻 笑翻 开心到飞起 欢欣鼓舞 乐不可支 喜不自胜 笑逐颜开
    喜笑颜开 笑开花 笑得合不拢嘴 笑不活了 高兴得跳起来 开心得跳起来 兴奋得睡不着 乐得合不拢嘴 笑得前仰后合 捧腹大笑 哈哈大笑 欢呼雀跃
    普天同庆 xswl 爷青回 芜湖起飞 赚翻`,
  ],
  [
    1,
    2,
    `开心 快乐 高兴 愉快 欢乐 喜悦 兴奋 激动 欣喜 开森 开熏 嗨皮 哈皮 爽 过瘾 哈哈 哈哈哈 嘻嘻 嘿嘿 嘿嘿嘿 哇哈哈 咯咯 嘎嘎
    乐呵 乐呵呵 笑哈哈 美滋滋 喜滋滋 乐滋滋 甜滋滋 喜洋洋 笑嘻嘻 笑眯眯 乐陶陶 好玩 好玩儿 好笑 搞笑 爆笑 大笑 笑出声 笑哭
    开怀 开怀大笑 欢快 欢喜 欢笑 欢呼 雀跃 幸福 甜蜜 好耶 太好了 迫不及待 中奖 欢庆 快活 畅快 痛痛快快 开开心心 快快乐乐
    高高兴兴 欢欢喜喜 嘻嘻哈哈 呦吼 哟吼 耶耶 好嗨 嗨起来 热血沸腾 振奋 得意 自得其乐 其乐融融 乐在其中 幸运 走运 运气好 赚到
    捡到宝 嘚瑟 得瑟 心情好 愉悦 欢愉 合不拢嘴 嘴角上扬 疯玩 玩嗨 玩得开心 笑容满面 满面春风 春风得意 喜上眉梢 乐观 开朗 芜湖
    起飞 嘎嘎乐 笑麻了 爽快地 放假啦 放假了 终于放假 过年啦 喜大普奔 欢聚 团聚 哈 哈哈哈哈 嘻 233 hhh 哈哈嗝 嘿哈 耶
    美哉 乐乐呵呵 笑盈盈`,
  ],
  [
    1,
    1,
    `笑 乐 喜 赢了 胜利 夺冠 微笑 期待 盼望 憧憬 向往 好运 热闹 精彩 刺激 有意思 乐趣 轻快 活泼 阳光明媚 明媚 灿烂地 打鸡血
    笑容 笑脸 笑了 乐子 逗比 逗乐 有趣 庆祝 惊艳到 心动不已 期待已久 盼着 等不及 小激动 雀跃不已 乐意地 欣欣然 悠哉悠哉 派对
    甜 甜甜的 磕到了 嗑到了 上头 好好玩`,
  ],
  [
    1,
    3,
    `ecstatic elated overjoyed thrilled euphoric exhilarated jubilant
    blissful over+the+moon on+cloud+nine best+day+ever so+much+fun lmao
    lmfao rofl roflmao dying+of+laughter laughing+so+hard
    couldn't+be+happier could+not+be+happier on+top+of+the+world
    best+time+ever laughed+so+hard cracking+up cracked+up`,
  ],
  [
    1,
    2,
    `happy glad joyful joy cheerful excited exciting excitement delighted
    delightful fun haha hehe lol yay hurray woo-hoo whee laugh laughing
    laughed laughter giggle giggled giggling chuckle chuckled hilarious
    had+a+blast a+blast celebrate celebrated celebration celebrating
    joyous merry jolly gleeful giddy stoked pumped psyched hyped thrilling
    cheery glee woot yass yas can't+wait cannot+wait can+not+wait
    looking+forward in+a+good+mood good+mood great+mood lucky luckiest
    awesome xd made+my+day great+time a+great+time fun+time funniest
    yippee excitedly joyfully happily cheerfully gladly hahaha hehehe
    lolol yaaay hurrah woot+woot party+time good+times elation happiness
    jubilation merriment woohoo hooray`,
  ],
  [
    1,
    1,
    `smile smiled smiling smiles grin grinned grinning amused amusing funny
    entertaining playful lively upbeat cheers good+vibes party partying
    fortunate hype anticipation eager eagerly playfully silly goofy
    lighthearted light-hearted carefree buoyant chirpy bubbly peppy`,
  ],

  // ── 2 好 Satisfied: content, grateful, approving, loving ─────────────
  [
    2,
    3,
    `感激不尽 心满意足 十全十美 完美无缺 无可挑剔 赞不绝口 五星好评 强烈推荐 大爱 永远的神 yyds 好评如潮 感人至深 爱了爱了
    物超所值 绝绝子 感恩不尽 谢天谢地 满心欢喜 心怀感激 感激涕零`,
  ],
  [
    2,
    2,
    `满足 满意 知足 感恩 感谢 感激 谢谢 多谢 感动 欣慰 舒服 舒适 惬意 温暖 暖心 温馨 治愈 幸福感 美好 不错 棒 赞 好评 优秀
    出色 厉害 了不起 佩服 敬佩 钦佩 喜欢 爱 喜爱 热爱 可爱 漂亮 好看 好听 好吃 好喝 美味 真香 完美 顺利 圆满 给力 牛逼
    牛批 牛b nb 666 绝了 自豪 骄傲 荣幸 成就感 满足感 充实 称赞 赞美 赞叹 贴心 体贴 舒坦 舒心 顺心 称心 称心如意 如愿
    如愿以偿 收获满满 美美哒 棒棒哒 么么哒 爱你 爱死 比心 赏心悦目 大饱眼福 大饱口福 回味无穷 干得漂亮 好样的 感人 庆幸 好用
    可口 鲜美 香喷喷 暖洋洋 小确幸 巴适 得劲 针不戳 杠杠的 妥妥的 顶呱呱 神作 超值 赚了 吹爆 爱了 心满意足地 绝美 惊艳
    值回票价 满分 安逸 踏踏实实 美滋滋地 谢谢你 谢谢大家 感谢有你 真棒 好极了 妙极了 好赞 点赞 感恩的心 暖暖的 幸福满满 凉快
    暖和 温柔 善良 友善 和善 热心 耐心地 靠得住 心安 赞同 支持 认可 鼓励 祝福 加油 成功了 搞定 搞定了 顺顺利利 有成就感
    有收获 收获 进步 进步了 好转 好多了 康复 痊愈 终于好了 松了口气 松一口气 如释重负 长舒一口气 安慰 被安慰 被治愈 治愈系
    被暖到 暖到了 破涕为笑 甜甜地 心动 心水 喜欢上 爱上 宠爱 疼爱 珍惜 珍贵 难得 美丽 帅气 优美 精致 美景 风景如画 好好吃
    好好看 好好听 入迷 享受 享受着 陶醉 沉醉 着迷 值得 值了 没白来 不虚此行 物美价廉 性价比高 良心 靠谱 实惠 划算 宝藏 种草
    安利 推荐 回购 稳了 妥了 优雅 爽口 清爽 凉爽 欣赏`,
  ],
  [
    2,
    1,
    `好 香 暖 萌 帅 美 酷 牛 安心 放心 踏实 满满 友好 热情 可靠 信任 相信 认同 幸好 好在 多亏 总算 舒畅 自在 自由 轻松
    安稳地 顺遂 如意 光荣 获得感 安全感 表扬 夸奖 夸 夸夸 精彩纷呈 有用 实用 方便 高效 省心 欣然 乐意 服气 不愧 难能可贵
    动人 温情 暖暖 爱心满满 惊喜地 被夸 被表扬 被认可 加薪 升职 涨工资 拿到offer 上岸 考上 录取 拿奖 获奖 满怀希望 有希望
    期盼 祝 宁静致远 甜美 甜蜜地 温暖地 舒服地 漂漂亮亮 清新 美美的 帅帅的 可可爱爱 软萌 萌萌哒 好萌 暖男 小天使 天使 神仙
    天花板 宝藏男孩 宝藏女孩 满怀感恩 心存感激 感谢老天 老天保佑 谢了 谢啦 谢谢啦 3q 感恩节 谢谢老师`,
  ],
  [
    2,
    3,
    `highly+recommend love+it loved+it love+this loved+this
    couldn't+ask+for+more could+not+ask+for+more perfection best+meal+ever
    five+stars 10/10 100%`,
  ],
  [
    2,
    2,
    `satisfied satisfying satisfaction content contented grateful gratitude
    thankful appreciate appreciated appreciation thanks thank thank+you
    thx blessed proud pride pleased great wonderful fantastic excellent
    amazing lovely brilliant superb terrific fabulous marvelous marvellous
    splendid outstanding gorgeous cute adorable love loved loving lovable
    adore adored enjoy enjoyed enjoying delicious yummy scrumptious cozy
    cosy relieved relief heartwarming touching touched fulfilled
    fulfilling accomplished impressive impressed admire admirable kudos
    bravo well+done good+job great+job nice+job nailed+it blessing
    thank+god thank+goodness yum love+you xoxo perfect beautiful wholesome
    heartfelt top+notch first-rate first+rate treasure treasured cherish
    cherished sweetheart appreciative delish comforting comforted soothing
    soothed gratefully thankfully stunning`,
  ],
  [
    2,
    1,
    `good nice cool neat decent solid helpful kind sweet warm productive
    successful success smooth smoothly comfortable comfy worth worthwhile
    recommend recommended rewarding tasty refreshed refreshing feel+better
    feeling+better felt+better improved progress optimistic hopeful
    confident respect respected trust fortunately luckily glad+to+hear
    not+bad pretty+good works+well better+now supportive generous
    thoughtful caring considerate polite friendly welcoming safe secure
    won win winning promoted promotion achievement achieved accomplishment
    healthy healed recovered rested+well elegant charming beauty
    well-deserved deserved pleasant pleasantly pleasure mmm enjoyable
    i+like we+like like+it like+this like+that i+liked liked+it
    really+like really+liked`,
  ],

  // ── 3 怒 Angry: anger, rage, cursing ──────────────────────────────────
  [
    3,
    3,
    `愤怒 暴怒 狂怒 震怒 大怒 怒不可遏 火冒三丈 怒火中烧 气炸 气死 气死我了 气疯 忍无可忍 岂有此理 欺人太甚 是可忍孰不可忍
    怒发冲冠 暴跳如雷 勃然大怒 义愤填膺 咬牙切齿 恨得牙痒痒 nmsl cnm 草泥马 去死 气得发抖 肺都气炸 七窍生烟 破口大骂
    叔可忍婶不可忍 气到发抖 气到爆炸 气到哭 怒火冲天 火冒三丈地 恨之入骨`,
  ],
  [
    3,
    2,
    `生气 气愤 恼火 恼怒 发火 火大 怒 气人 可恶 混蛋 王八蛋 滚 凭什么 过分 太过分 不公平 不爽 不满 愤愤不平 愤慨 愤恨 怨恨
    窝火 冒火 来气 生闷气 发脾气 暴躁 炸毛 抓狂 暴走 发飙 翻脸 大骂 痛骂 受够了 受够 欺负 欺骗 背叛 可恨 怒气 怒火 气急败坏
    怒吼 咆哮 气鼓鼓 气呼呼 气冲冲 怒骂 怒斥 泄愤 滚开 闭嘴 怒怼 不讲理 无理取闹 蛮不讲理 不讲道理 忍不了 妈的 他妈的 tmd
    尼玛 泥马 mmp 麻蛋 他喵的 特么 滚粗 给爷爬 无能狂怒 气不过 咽不下这口气 恼羞成怒 大发雷霆 暴脾气 火气大 气坏了 气得
    憋着火 一肚子火 一肚子气 被气哭 气哭 被气到 气到 凭啥 欺人 骗子 坑我 骗我 耍我 吼我 骂我 凶我 被骂 被凶 被吼 吵了一架
    大吵一架 吵起来 气 要炸了 要爆炸了 快炸了 快气炸了`,
  ],
  [
    3,
    1,
    `骂 骂人 吵架 争吵 不服 怼 哼 上火 怄气 赌气 置气 火气 撕逼 抗议 找茬 挑衅 霸道 md 靠 操 吼 吵 凶 吵闹 插队 加塞
    甩锅 背锅 被冤枉 冤枉 憋屈 不甘示弱 较劲 顶嘴 斗嘴 嚷嚷 爆粗口 骂骂咧咧 急眼`,
  ],
  [
    3,
    3,
    `furious enraged livid outraged infuriated infuriating irate seething
    fuming pissed+off rage raging wrath lost+my+temper blood+boiling
    boiling+with+rage fuck+you fuck+this rageful`,
  ],
  [
    3,
    2,
    `angry anger mad pissed frustrated frustrating frustration outrage
    resent resented resentment hostile yelled yelling shouted shouting
    argued arguing argument fight fought unfair injustice betrayed
    betrayal fed+up wtf fuck fuckin dammit damn+it grr grrr argh aargh
    how+dare offended insulted provoked irked tantrum sick+and+tired stfu
    shut+up bullshit screw+you screw+this vengeful revenge indignant
    infuriate enrage angrily madder pissy what+the+fuck not+fair
    unacceptable outrageous`,
  ],
  [
    3,
    1,
    `what+the+hell what+the+heck heated temper grumpy cranky had+enough
    had+it rant ranting screw+it aggressive bitter agitated damn shit
    fucking cursed cursing swore swearing snapped grouchy irritable ticked
    ticked+off sore+at`,
  ],

  // ── 4 哀 Sad: sorrow, loss, disappointment, loneliness, regret ────────
  [
    4,
    3,
    `悲痛 悲痛欲绝 痛不欲生 心碎 心如刀割 肝肠寸断 伤心欲绝 泪崩 泪流满面 泣不成声 绝望 生无可恋 痛苦 撕心裂肺 万念俱灰 心灰意冷
    痛哭 大哭 嚎啕大哭 哭成狗 哭惨了 抑郁 去世 离世 过世 病逝 永别 心痛 心如死灰 泪如雨下 身心俱疲 噩耗 痛哭流涕 心如刀绞
    哭了一整夜 哭了一晚上 哭到崩溃 崩溃大哭 想死 不想活了 活不下去`,
  ],
  [
    4,
    2,
    `难过 伤心 悲伤 哀伤 忧伤 悲哀 悲凉 凄凉 哭 想哭 哭泣 流泪 落泪 掉眼泪 泪目 泪奔 呜呜 呜呜呜 555 失望 低落 消沉 颓废
    孤独 寂寞 孤单 委屈 心酸 辛酸 遗憾 难受 苦涩 苦闷 丧 破防 心累 疲惫 筋疲力尽 精疲力尽 累成狗 累瘫 心塞 扎心 裂开
    我裂开了 无助 空虚 失落 伤感 惆怅 感伤 忧郁 压抑 思念 想家 舍不得 不舍 离别 分手 失恋 被甩 落榜 挂科 失业 后悔 懊悔
    悔恨 内疚 愧疚 自责 凄惨 哭唧唧 泪汪汪 眼眶湿润 鼻子一酸 红了眼眶 哽咽 唉声叹气 垂头丧气 闷闷不乐 郁郁寡欢 黯然 悲从中来
    悲催 苦逼 惨兮兮 孤零零 孤苦伶仃 没人在乎 被抛弃 心寒 寒心 挫败 挫败感 心灰 灰心 丧气 气馁 没救了 人间不值得 煎熬 折磨
    痛心 惨剧 不幸 节哀 崩溃 心态崩了 心态炸了 难顶 蓝瘦香菇 蓝瘦 凉凉 哭死 哭了 大哭一场 哭出来 眼泪止不住 泪流不止 伤透了心
    寒了心 悲观 怀念从前 回不去了 物是人非 遗憾终生 白费了 白努力 被拒绝 被拒 被裁 被辞退 考砸 考砸了 没考好 落选 失败了 输了
    搞砸 搞砸了 太难了 活着好累 孤独感 寂寞感 一个人哭 自卑 自我怀疑 空落落 抛弃 feel+terrible feel+awful
    feeling+terrible feeling+awful felt+terrible felt+awful so+down
    really+down very+down emo 一场空 一事无成`,
  ],
  [
    4,
    1,
    `累 无奈 可惜 想念 怀念 对不起 抱歉 可怜 倒霉 叹气 唉 告别 生病 住院 疲倦 心疼 痛 疼 惨 苦 哀 泪 嘤嘤 眼泪 沉重 无力
    低迷 失意 受挫 打击 泄气 没用 废了 艰难 悲剧 萎靡 想你 被冷落 被忽视 冷落 没人理 形单影只 孤寡 社畜 凉了 寄了 gg
    完犊子 麻了 顶不住 扛不住 自闭 发烧 感冒 头疼 胃疼 牙疼 肚子疼 不舒服 难熬 疲劳 困倦 乏力 有气无力 无精打采 提不起劲
    提不起精神 没精神 没动力 迷失 失去 丢了 弄丢 丢失 错过 分别了 伤 受伤 伤口 病 吃药 打针 遗憾地 可惜了 唏嘘 感慨 怅然
    怅然若失 落寞 寥落 冷清 凄清 阴沉 阴郁 灰暗 苦笑 强颜欢笑 假装开心 笑着哭 dbq 对不住 awful terrible`,
  ],
  [
    4,
    3,
    `heartbroken devastated miserable depressed despair hopeless grief
    grieving crushed distraught inconsolable anguish heartbreak
    heartbreaking gutted broke+my+heart broken+heart cried+all+night
    passed+away bawling sobbing feel+like+crying cried+myself+to+sleep
    want+to+die suicidal heart+is+broken my+heart+hurts falling+apart
    breaks+my+heart break+my+heart my+heart+breaks`,
  ],
  [
    4,
    2,
    `sad unhappy upset cry cried crying cries tears tearful teary sob
    sobbed lonely loneliness hurt hurts hurting painful disappointed
    disappointing disappointment regret regretted regretful guilty guilt
    gloomy melancholy sorrow sorrowful mourn mourning homesick exhausted
    weary drained burnout burned+out burnt+out numb broken defeated
    helpless worthless rejected rejection dumped let+down feel+bad
    feeling+bad felt+bad feel+down feeling+down felt+down feeling+low
    feeling+blue that+sucks bummed bummer depressing sadness sadly alas
    rip funeral died death weep wept lonesome abandoned isolated
    despairing dejected downcast discouraged disheartened miss+you
    miss+him miss+her miss+home miss+them bad+day rough+day rough+week
    bad+week terrible+day worst+day what+a+pity what+a+shame want+to+cry
    wanna+cry heartache tragic tragedy condolences moping mope lost+my+job
    got+fired broke+up breakup break-up ashamed misery grieve melancholic
    forlorn desolate wretched downhearted crestfallen sorrowfully
    tearfully let+everyone+down let+them+down let+you+down let+myself+down
    let+him+down let+her+down`,
  ],
  [
    4,
    1,
    `failure failed fail sorry unlucky unfortunate unfortunately pity shame
    sick ill tired sigh sighed ache aching wistful nostalgic miss missed
    empty hollow lost alone useless moody tear pointless meaningless bad
    badly hard+day tough+day long+day rough exhausting tiring struggle
    struggling struggled suffering suffer suffered setback downer blah`,
  ],

  // ── 5 惧 Worried: fear, anxiety, nervousness, embarrassment ──────────
  [
    5,
    3,
    `恐惧 恐慌 惊恐 惶恐 惊慌失措 魂飞魄散 毛骨悚然 胆战心惊 提心吊胆 心惊肉跳 吓死 吓死我了 吓坏 吓尿 吓哭 焦虑 惴惴不安
    坐立不安 寝食难安 忧心忡忡 不寒而栗 担惊受怕 忐忑不安 慌得一批 急死 吓破胆 心里发毛 汗毛竖起 精神内耗`,
  ],
  [
    5,
    2,
    `担心 担忧 害怕 紧张 不安 忐忑 慌 心慌 发慌 慌张 慌乱 吓人 吓到 吓到了 怕怕 畏惧 惧怕 胆怯 焦急 着急 心急 焦躁 压力山大
    鸭梨山大 压力大 怎么办 咋办 怎么办才好 不知所措 手足无措 揪心 心有余悸 后怕 惊魂未定 慌慌张张 战栗 冷汗 捏把汗 捏一把汗
    焦头烂额 忧虑 忧心 发愁 犯愁 可怕 恐怖 噩梦 战战兢兢 诚惶诚恐 六神无主 如临大敌 瑟瑟发抖 七上八下 心神不宁 心烦意乱 心里没底
    阴森 瘆人 渗人 惊慌 社死 脚趾抠地 大事不妙 紧张兮兮 心跳好快 睡不着觉 夜不能寐 心惊胆战 惶惶不安 焦虑不安 忧心如焚 如坐针毡
    心悬着 悬着的心 放心不下 不放心 胆小如鼠 吓了一身冷汗 出了一身冷汗 怕黑 恐高 内耗 被吓到 方了 要完了 完蛋了 要挂了 怎么得了
    怕 人心惶惶 heart+pounding heart+was+pounding pounding+heart heart+racing
    heart+was+racing mind+racing mind+was+racing 喘不过气 透不过气`,
  ],
  [
    5,
    1,
    `吓 急 发抖 颤抖 胆小 压力 失眠 睡不着 万一 会不会 不敢 心虚 没底 没把握 社恐 尴尬 害羞 羞涩 丢人 丢脸 难为情 窘迫 囧
    尬 尬聊 手忙脚乱 牵挂 挂念 操心 顾虑 疑虑 犹豫 纠结 迷茫 困惑 困扰 不确定 危险 危机 诡异 哆嗦 虚惊一场 心跳加速 腿软
    ddl 头大 为难 犯难 救命 不妙 糟了 完蛋 怂 没信心 没自信 心里打鼓 惦记 悬了 前途未卜 未知数 不踏实 担子重 考试周 期末周
    赶due 没准备好 临时抱佛脚 要迟到了 来不及 赶不上 等结果 忐忑地 提心吊胆地 颤颤巍巍 小心翼翼 心惊 闹鬼 毛毛的 发毛 怯场 怯
    怵 发怵 打怵 胆寒`,
  ],
  [
    5,
    3,
    `terrified petrified horrified panic panicked panicking panic+attack
    dread dreading dreaded freaked+out freaking+out freak+out
    scared+to+death scared+shitless traumatized terrifying horrifying
    scared+stiff scared+the+hell+out+of scared+the+shit+out+of
    anxiety+attack`,
  ],
  [
    5,
    2,
    `worried worry worrying worries anxious anxiety nervous nervously
    scared scary afraid fear fears feared fearful frightened frightening
    stressed stressful stress tense tension uneasy overwhelmed
    overthinking overthink apprehensive jittery spooked alarmed alarming
    on+edge what+if nightmare nightmares can't+sleep couldn't+sleep
    cannot+sleep mortified paranoid phobia eerie worrisome unsettling
    nerve-wracking nerve+wracking stressing stressed+out oh+no uh-oh uh+oh
    doomed what+should+i+do what+do+i+do what+am+i+going+to+do
    worried+sick butterflies+in+my+stomach anxiously fearfully dreadful
    shaking+with+fear trembling sleepless+night`,
  ],
  [
    5,
    1,
    `creepy ominous threatening insecure restless concerned concern
    unsettled nerves embarrassed embarrassing embarrassment awkward shy
    doubt unsure uncertain hesitant timid pressure deadlines insomnia
    sleepless shaking shaky tremble yikes eek doom screwed nervy antsy
    jumpy on+pins+and+needles cringed self-conscious intimidated
    intimidating daunting apprehension suspense risky danger dangerous
    unsafe haunted deadline`,
  ],

  // ── 6 恶 Disgusted: disgust, contempt, irritation, boredom ───────────
  [
    6,
    3,
    `恶心 作呕 令人作呕 厌恶 憎恶 痛恨 深恶痛绝 卑鄙 无耻 下流 猥琐 恶毒 可耻 龌龊 人渣 败类 畜生 禽兽 不要脸 傻逼 煞笔 脑残
    智障 唾弃 恶臭 恶心巴拉 令人发指 恨`,
  ],
  [
    6,
    2,
    `讨厌 讨人厌 烦 烦人 烦躁 心烦 厌烦 厌倦 反感 嫌弃 鄙视 看不起 瞧不起 不屑 恶劣 垃圾 辣鸡 无语 呕 想吐 吐了 我吐了 油腻
    做作 虚伪 装逼 恶俗 低俗 奇葩 离谱 离大谱 有病 神经病 有毛病 服了 我服了 膈应 闹心 糟心 添堵 扫兴 败兴 坑爹 坑人 被坑
    渣男 渣女 渣渣 废物 蠢 愚蠢 蠢货 傻子 白痴 弱智 丑陋 难吃 难闻 肮脏 差劲 差评 劣质 敷衍 嫉妒 妒忌 白眼 翻白眼 受不了
    谴责 鄙夷 厌世 讨嫌 招人烦 惹人厌 丢人现眼 流氓 骚扰 变态 渣滓 小人 势利 势利眼 自私 作精 杠精 键盘侠 喷子 智商税 坑钱
    黑心 奸商 骗局 无力吐槽 槽多无口 不忍直视 惨不忍睹 看不下去 烦心 不耐烦 脏乱差 下头 yue 辣眼睛 踩雷 拉胯 拉垮 烂片 戏精
    普信男 爹味 讨厌鬼 厚颜无耻 恬不知耻 道貌岸然 虚情假意 假惺惺 阴阳怪气 冷嘲热讽 指桑骂槐 嫌恶 憎恨 怨气 一肚子怨气 反胃
    倒胃口 没胃口 腻歪 腻烦 烦不胜烦 不胜其烦 鸡肋 糟透了 烂 稀烂 烂到家 什么玩意 啥玩意 滚犊子`,
  ],
  [
    6,
    1,
    `无聊 没劲 没意思 乏味 枯燥 腻 别扭 矫情 醉了 坑 渣 傻 丑 难看 难听 臭 脏 邋遢 乱七八糟 差 糟糕 山寨 摆烂 眼红 柠檬精
    怀疑 可疑 猜忌 呵呵 呵呵哒 嘁 抱怨 埋怨 指责 批评 冷漠 无情 虚荣 炫耀 绿茶 白莲花 心机 水军 割韭菜 诈骗 套路 内卷 窒息
    一言难尽 一团糟 发霉 腐烂 庸俗 普信 海王 尬吹 哭笑不得 不过如此 就这？ 就这? 啧 啧啧 切 嫌 不靠谱 靠不住 掉链子 磨叽
    磨蹭 啰嗦 唠叨 磨磨唧唧 墨迹 难搞 难伺候 看不惯 看不顺眼 不顺眼 讨人嫌 糟心事 破事 烂事 麻烦 麻烦事 添乱 扯皮 推诿 甩脸色
    摆架子 装模作样 矫揉造作 虚头巴脑 形式主义 敷衍了事 毁三观 三观不正 人品差 素质差 没素质 没教养 不文明 烦恼 破烂 sucks
    suck sucked 不怎么样 没什么意思 没啥意思`,
  ],
  [
    6,
    3,
    `disgusting disgusted revolting repulsive nauseating vile despise
    despised loathe loathing abhor hate hated hates hatred sickening
    detest detestable can't+stand cannot+stand makes+me+sick grossed+out
    despicable repulsed repugnant abhorrent`,
  ],
  [
    6,
    2,
    `gross yuck yuk eww ew ewww ick icky annoyed annoying annoys irritated
    irritating irritation nasty filthy cringe cringy cringey cringeworthy
    pathetic ridiculous stupid idiot idiots idiotic moron jerk asshole
    bitch trash trashy garbage crap crappy hateful hypocrite hypocritical
    toxic rude selfish jealous envious envy contempt scorn disdain
    obnoxious unbearable intolerable offensive scam ripoff rip-off
    horrible puke vomit barf dislike don't+like didn't+like do+not+like
    did+not+like doesn't+like sick+of tired+of gets+on+my+nerves
    get+on+my+nerves on+my+nerves what+a+joke waste+of+time waste+of+money
    lousy snobby arrogant condescending greedy shameless sleazy slimy
    disgrace disgraceful annoyingly bored+to+death bored+out+of+my+mind
    loathsome distasteful sexist racist bigot`,
  ],
  [
    6,
    1,
    `ugh lame boring bored tedious dull fake sketchy shady overpriced
    nauseous smelly stinks stink stinky ugly dirty messy worst mediocre
    absurd petty snob smug suspicious distrust not+a+fan spam nonsense
    tacky cheesy corny whiny whining complain complaining complained
    nagging boredom monotonous bland tasteless soggy stale greasy rotten
    moldy mouldy overrated`,
  ],

  // ── 7 惊 Surprised: surprise, shock, amazement, disbelief ─────────────
  [
    7,
    3,
    `震惊 大吃一惊 目瞪口呆 瞠目结舌 难以置信 万万没想到 惊呆 惊呆了 惊掉下巴 下巴掉了 瞳孔地震 惊得说不出话 吓了一大跳 惊为天人
    震惊了`,
  ],
  [
    7,
    2,
    `震撼 我的天哪 天呐 天哪 天啊 我的天 我的妈呀 妈呀 卧槽 握草 哇塞 哇哦 不可思议 出乎意料 意想不到 没想到 想不到 惊讶
    吃了一惊 惊奇 惊叹 诧异 愕然 讶异 惊诧 惊了 惊喜 不敢相信 不会吧 真的假的 什么鬼 黑人问号 懵逼 一脸懵逼 懵圈 蒙圈 傻眼
    呆住 愣住 吓一跳 吓我一跳 吓了一跳 猝不及防 始料未及 出人意料 匪夷所思 大跌眼镜 刷新三观 好家伙 炸裂 逆天 奇迹 神反转 天了噜
    我滴天 妈耶 没料到 谁能想到 意外地 被惊到 惊到 大开眼界 叹为观止 不可置信 怎么可能 不敢置信 难以想象 出乎预料`,
  ],
  [
    7,
    1,
    `哇 我靠 我去 我擦 wc 咦 竟然 居然 惊 意外 好奇 神奇 奇怪 奇妙 懵 开眼 长见识 涨姿势 反转 啊这 什么情况 啥情况
    怎么回事 恍然大悟 原来如此 问号脸 突如其来 奇了怪了 罕见 稀奇 新奇 离奇 蹊跷 不寻常 反常 怪事 突然 忽然 骤然 猛然 竟 噢噢
    哦豁`,
  ],
  [
    7,
    3,
    `shocked astonished astounded stunned flabbergasted mind+blown
    mindblown omfg holy+shit mind-blowing jaw+dropped jaw-dropping
    dumbfounded can't+believe+my+eyes could+not+believe
    speechless+with+shock`,
  ],
  [
    7,
    2,
    `surprised surprise surprising amazed startled shocking shock
    unexpected whoa woah wow omg oh+my+god oh+my+gosh oh+my+goodness
    no+way unbelievable can't+believe cannot+believe couldn't+believe
    didn't+expect did+not+expect never+expected who+knew out+of+the+blue
    holy+cow holy+moly plot+twist speechless bewildered baffled bizarre
    wowza wtf+just+happened oh+wow astonishing astounding staggering
    unreal incredible surprisingly`,
  ],
  [
    7,
    1,
    `unexpectedly suddenly gosh geez jeez huh weird strange odd curious
    confused puzzled never+thought out+of+nowhere all+of+a+sudden
    strangely oddly unusual gasp gasped wait+what what+the`,
  ],

  // ── Emoji, WeChat/Weibo tags, kaomoji ────────────────────────────────
  [
    0,
    1,
    `😐 😶 🧘 😴 💤 🍵 🤷 [发呆] [睡] [困] [悠闲] [哈欠] [思考] [吃瓜] [围观] [摊手] [咖啡] [月亮]
    [emm] (ツ) [闭嘴] [嘘]`,
  ],
  [
    1,
    2,
    `😀 😃 😄 😁 😆 😂 🤣 😹 😸 🥳 🎉 🎊 🤩 🙌 💃 🕺 [哈哈] [笑cry] [嘻嘻] [偷笑] [呲牙] [憨笑] [愉快]
    [得意] [调皮] [太开心] [耶] [胜利] [庆祝] [烟花] [跳跳] [嘿哈] [破涕为笑] [awsl] [憧憬] [笑脸]
    [haha] :d :-d ^_^ ^o^ ^▽^ ≧▽≦ ^ω^ ＾＿＾ (≧∇≦) ≧∇≦ (*^▽^*)`,
  ],
  [
    1,
    1,
    `😝 😜 🤪 😛 🎈 🥂 🍻 🤭 😅 🌈 🎁 🎂 ✌ 😺 [坏笑] [奸笑] [机智] [挤眼] [二哈] [doge] [喵喵] [害羞]
    [脸红] [捂脸] [社会社会] [旺柴] [啤酒] [蛋糕] [太阳] [礼物] [红包] [發] [福] [爆竹] [转圈] [钱]
    [污] [羞嗒嗒] [笑而不语] :) :-) =) ;) ;-) ^^`,
  ],
  [
    2,
    2,
    `😊 ☺ 😌 😇 🥰 😍 😘 ❤ 💕 💖 💗 💓 💞 💘 💝 ♥ 🧡 💛 💚 💙 💜 💯 👍 👏 🤗 😋 😻 🫶 [微笑] [赞] [心]
    [爱心] [爱你] [可爱] [鼓掌] [good] [威武] [给力] [强] [色] [亲亲] [拥抱] [抱抱] [666]
    [打call] [给你小心心] [玫瑰] [鲜花] <3`,
  ],
  [
    2,
    1,
    `🙂 😗 😙 😚 🤍 🤎 🙏 👌 🤤 💪 🏆 😎 🌹 ✅ 👑 🥹 🆗 [酷] [馋嘴] [握手] [抱拳] [ok] [合十] [好的]
    [加油] [嘴唇] [顶] [融化]`,
  ],
  [3, 3, `😡 🤬 [发怒] [咒骂] [怒骂] ╯°□° ╯‵□′ 凸`],
  [3, 2, `😠 👿 💢 🖕 😾 [怒] [生气] [抓狂] [菜刀] [炸弹] ┻━┻ >:(`],
  [3, 1, `😤 👊 [哼] [右哼哼] [左哼哼] [敲打] [拳头]`],
  [4, 3, `😭 💔 [大哭] [心碎] ಥ_ಥ ╥﹏╥ :'(`],
  [
    4,
    2,
    `😢 😞 😔 ☹ 😿 😥 😩 😫 [泪] [流泪] [难过] [伤心] [悲伤] [失望] [委屈] [快哭了] [可怜] [泪目] [叹气]
    [苦涩] [裂开] [凋谢] [蜡烛] :( :-(`,
  ],
  [
    4,
    1,
    `😮‍💨 🙁 🥺 😪 😓 🥀 😕 😣 😖 🥲 [衰] [生病] [允悲] [打脸] [感冒] [弱] orz t_t qaq qwq tat`,
  ],
  [5, 3, `😱 [惊恐] [恐惧]`],
  [5, 2, `😨 😰 😟 [害怕] [发抖]`],
  [5, 1, `😧 😬 🫣 [尴尬] [擦汗] [汗] [囧] [皱眉] >_< >﹏< ⊙﹏⊙`],
  [6, 3, `🤮 [吐]`],
  [6, 2, `🤢 😒 🙄 💩 👎 [白眼] [翻白眼] [鄙视] [便便] [无语] [撇嘴]`],
  [
    6,
    1,
    `😑 😏 🤡 🤨 🤦 [傲慢] [阴险] [抠鼻] [挖鼻] [黑线] [猪头] [酸] [NO] -_- =_= -.- ¬_¬`,
  ],
  [7, 3, `🤯`],
  [
    7,
    2,
    `😮 😯 😲 🙀 🫢 [惊讶] [吃惊] [天啊] [哇] [傻眼] :o :-o ⊙_⊙ ⊙o⊙ °Д° ⁉`,
  ],
  [
    7,
    1,
    `😳 😵 😦 👀 [疑问] [晕] [费解] [让我看看] [并不简单] [跪了] o_o 0_0 o.o`,
  ],
];

/** Negation words: they turn the next emotion word within a few units. */
export const NEGATORS =
  `不 没 没有 别 不是 并不 并非 并没有 并没 无 未 非 不再 从不 从没
  从没有 从来不 从来没 从来没有 绝不 决不 不会 不能 无法 不必 不用 不要 别再 不觉得
  没觉得 不感到 没感到 不至于 甭 不曾 未曾 永不 再也不 再也没
  not no never don't dont doesn't doesnt didn't didnt isn't isnt wasn't wasnt
  aren't arent weren't werent can't cant cannot couldn't couldnt won't wont
  wouldn't wouldnt shouldn't shouldnt haven't havent hasn't hasnt hadn't hadnt
  ain't aint nor neither without never+ever no+longer`;

/** Stronger negation ("not at all"): the turned word weighs a bit more. */
export const STRONG_NEGATORS =
  `毫不 毫无 根本不 根本没 根本没有 一点也不 一点都不
  一点儿也不 一点儿都不 完全不 完全没有 丝毫不 丝毫没有 压根不 压根没 压根儿不 压根儿没
  绝对不 一点也没 一点都没 从来都不 从来都没 not+at+all absolutely+not
  definitely+not certainly+not by+no+means`;

/** Softened negation ("not very"): the turned word weighs less. */
export const SOFT_NEGATORS =
  `不怎么 没那么 没怎么 不算 谈不上 算不上 称不上 说不上 不太
  不是很 不是太 不大 不够 未必 不见得 没多 不那么 hardly barely scarcely not+really
  not+very not+that not+so not+too not+exactly not+particularly not+overly
  not+entirely not+quite`;

/** Degree words before an emotion word, by multiplier. */
export const DEGREE_WORDS: readonly (readonly [number, string])[] = [
  [
    2,
    `极其 极度 极为 超级 超 巨 贼 爆 太 特别 非常 十分 万分 无比 格外 异常 尤其 尤为
    多么 最 最最 简直 真是 实在是 无敌 超级无敌 死 特 超超 极 绝对 完全 彻底
    extremely super absolutely incredibly insanely utterly deeply ridiculously
    terribly totally completely unbelievably hella crazy freaking fucking
    bloody mega ultra immensely tremendously enormously`,
  ],
  [
    1.5,
    `很 真 挺 蛮 相当 真的 实在 好 越来越 更 更加 愈发 还挺 那么 这么 如此 可 老
    好生 怪 够 真心 真真 确实 的确 着实 非常之 太过
    very so really truly seriously genuinely especially highly such most
    damn awfully real way too quite+a+bit super+duper`,
  ],
  // Adverbs a negation reads through ("没有好好珍惜"), weight unchanged.
  [1, `好好 一直 总是 老是 始终 依然 仍然 always still`],
  [1.2, `比较 挺是 还蛮 更是 愈加 越发 quite pretty more much rather fairly`],
  [
    0.5,
    `有点 有点儿 有些 有一点 有一点点 一点 一点点 稍微 稍稍 略 略微 略有 些许 微微
    还算 一丝 轻微 小小 小小的 稍 稍显 a+bit a+little a+little+bit slightly
    somewhat kinda kind+of sorta sort+of mildly a+tad little less`,
  ],
];

/** Degree words after an emotion word ("开心死了", "累得要命", "happy af"). */
export const POST_DEGREE_WORDS: readonly (readonly [number, string])[] = [
  [
    1.8,
    `死了 死 死我了 爆了 炸了 透了 极了 到爆 到炸 得要命 得要死 得不行 到不行 至极
    透顶 到极点 得不得了 到了极点 得没边 坏了 疯了 惨了 翻了 哭了 到飞起 飞起 上天
    af as+fuck as+hell to+death to+the+core beyond+words`,
  ],
  [
    1.5,
    `得很 得厉害 不已 万分 无比 得慌 得紧 得够呛 够呛 so+much very+much
    a+lot like+crazy like+hell`,
  ],
];

/** Contrast words: what follows them outweighs what came before. */
export const CONTRAST_WORDS =
  `但是 但 可是 不过 然而 却 反而 只不过 偏偏 but however
  nevertheless nonetheless anyway anyways yet+still even+so`;

/** Concession words: the clause they open weighs less. */
export const CONCESSION_WORDS =
  `虽然 虽 虽说 尽管 固然 although though even+though
  despite in+spite+of`;

/**
 * Words whose negation is not the class default (Happy→Sad, Satisfied→
 * Disgusted, Peaceful→Worried, the rest→Peaceful): "不好" and "not good"
 * are sad rather than disapproving; "不放心" is worry.
 */
export const NEGATION_TARGETS: readonly (readonly [number, string])[] = [
  [
    4,
    `好 舒服 顺利 顺心 如意 好受 开朗 乐观 幸福 自在 快活 good well fine okay ok
    alright great proud happy glad healthy lucky fortunate`,
  ],
  [
    5,
    `放心 安心 踏实 轻松 安稳 淡定 平静 冷静 镇定 comfortable confident safe secure
    calm relaxed sure`,
  ],
];
