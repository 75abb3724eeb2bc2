package citygen

import "math/rand/v2"

// nameGen makes Chinese place, street and shop names from common parts.
type nameGen struct{ r *rand.Rand }

var (
	nameHead = []string{"和平", "建设", "解放", "人民", "中山", "文化", "胜利", "光明", "青年", "新华", "长江", "黄河", "东风",
		"友谊", "朝阳", "红旗", "幸福", "民主", "团结", "复兴", "振兴", "育才", "春晖", "丰收", "安居", "滨河", "柳荫", "桃园",
		"杏林", "梧桐", "银杏", "枫林", "翠竹", "兰亭", "清泉", "明湖", "锦绣", "金桥", "玉泉", "凤鸣", "龙腾", "星海"}
	nameTail     = []string{"", "东", "西", "南", "北", "新", "中"}
	districtHead = []string{"东城", "西城", "南湖", "北岭", "新港", "高新", "滨江", "河东", "河西", "开发", "江北", "城南"}
	shopKinds    = []string{"便利店", "超市", "餐馆", "面馆", "理发店", "药店", "水果店", "五金店", "早餐店", "干洗店", "烟酒店", "花店", "茶叶店", "手机店"}
	surnames     = []string{"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭"}
)

func (n nameGen) districtNames() []string { return districtHead }

func (n nameGen) place() string { return n.placeR(n.r) }

func (n nameGen) placeR(r *rand.Rand) string {
	return nameHead[r.IntN(len(nameHead))] + nameTail[r.IntN(len(nameTail))]
}

func (n nameGen) shop(r *rand.Rand) string {
	return surnames[r.IntN(len(surnames))] + "记" + shopKinds[r.IntN(len(shopKinds))]
}
