use rand::Rng;
use rand::rngs::StdRng;

use crate::ChainSpec;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub id: String,
    pub name: String,
    pub city: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuItem {
    pub product_id: String,
    pub name: String,
    pub category_id: String,
    pub category_name: String,
    pub price_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub stores: Vec<Store>,
    pub menu: Vec<MenuItem>,
}

// New cities go at the end: a chain of n cities takes the first n.
const CITIES: [&str; 30] = [
    "上海",
    "北京",
    "杭州",
    "深圳",
    "成都",
    "广州",
    "南京",
    "武汉",
    "重庆",
    "西安",
    "苏州",
    "天津",
    "长沙",
    "郑州",
    "青岛",
    "宁波",
    "合肥",
    "佛山",
    "东莞",
    "无锡",
    "厦门",
    "福州",
    "济南",
    "昆明",
    "大连",
    "沈阳",
    "哈尔滨",
    "长春",
    "南昌",
    "贵阳",
];
const DISTRICTS: [&str; 10] = [
    "中心",
    "万达",
    "高新",
    "东站",
    "大学城",
    "滨江",
    "科技园",
    "西湖",
    "南门",
    "新城",
];

/// (item name, price in fen).
type Items = &'static [(&'static str, i64)];

/// (category id, category name, items).
const MENU: [(&str, &str, Items); 7] = [
    (
        "main",
        "主食",
        &[
            ("红烧牛肉面", 3200),
            ("番茄鸡蛋面", 2200),
            ("黄焖鸡米饭", 2800),
            ("扬州炒饭", 2400),
            ("卤肉饭", 2600),
            ("酸菜鱼饭", 3600),
        ],
    ),
    (
        "combo",
        "套餐",
        &[
            ("单人工作餐", 3500),
            ("双人套餐", 8800),
            ("家庭欢享餐", 15800),
            ("早餐套餐", 1500),
        ],
    ),
    (
        "snack",
        "小吃",
        &[
            ("锅贴", 1200),
            ("春卷", 1000),
            ("鸡米花", 1500),
            ("凉拌黄瓜", 900),
            ("卤蛋", 400),
            ("小笼包", 1800),
        ],
    ),
    (
        "drink",
        "饮品",
        &[
            ("柠檬茶", 1200),
            ("豆浆", 500),
            ("酸梅汤", 800),
            ("奶茶", 1500),
            ("可乐", 600),
        ],
    ),
    (
        "dessert",
        "甜品",
        &[
            ("杨枝甘露", 1800),
            ("双皮奶", 1400),
            ("芒果布丁", 1200),
            ("红豆沙", 1000),
        ],
    ),
    (
        "soup",
        "汤品",
        &[("紫菜蛋花汤", 600), ("酸辣汤", 800), ("排骨汤", 1800)],
    ),
    (
        "breakfast",
        "早点",
        &[
            ("油条", 300),
            ("包子", 400),
            ("煎饼果子", 900),
            ("茶叶蛋", 300),
        ],
    ),
];

impl Chain {
    pub(crate) fn new(spec: &ChainSpec, rng: &mut StdRng) -> Self {
        let cities = &CITIES[..spec.cities.clamp(1, CITIES.len())];
        let stores = (0..spec.stores.max(1))
            .map(|i| {
                let city = cities[i % cities.len()];
                let district =
                    DISTRICTS[(i / cities.len() + rng.random_range(0..3)) % DISTRICTS.len()];
                Store {
                    id: format!("s-{:03}", i + 1),
                    name: format!("{city}{district}{}号店", i / cities.len() + 1),
                    city: city.to_owned(),
                }
            })
            .collect();
        let mut menu = Vec::new();
        for (category_id, category_name, items) in MENU {
            for (name, price) in items {
                menu.push(MenuItem {
                    product_id: format!("p-{:03}", menu.len() + 1),
                    name: (*name).to_owned(),
                    category_id: category_id.to_owned(),
                    category_name: category_name.to_owned(),
                    price_fen: *price,
                });
            }
        }
        Self { stores, menu }
    }

    pub(crate) fn items_of(&self, category: &str) -> Vec<&MenuItem> {
        self.menu
            .iter()
            .filter(|m| m.category_id == category)
            .collect()
    }
}
