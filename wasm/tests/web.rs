//! Browser tests (`wasm-pack test --headless --chrome` / `--firefox`): the
//! exported functions on real fixtures handed over as `Blob`s, as the page
//! does, checked against analyze-migration.py's goldens.

#![cfg(target_arch = "wasm32")]

mod reference;

use js_sys::{Array, Function, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::Blob;

wasm_bindgen_test_configure!(run_in_browser);

const PC: &[u8] = include_bytes!("../../tests/fixtures/x86_64-pc-10.0.mig");
const PC_STATE: &str = include_str!("../../tests/fixtures/x86_64-pc-10.0.state.json");
const PC_DESC: &str = include_str!("../../tests/fixtures/x86_64-pc-10.0.desc.json");
const S390: &[u8] = include_bytes!("../../tests/fixtures/s390x-ccw-10.0.mig");
const S390_STATE: &str = include_str!("../../tests/fixtures/s390x-ccw-10.0.state.json");
const S390_DESC: &str = include_str!("../../tests/fixtures/s390x-ccw-10.0.desc.json");
const SPARC: &[u8] = include_bytes!("../../tests/fixtures/sparc64-sun4u-10.0.mig");
const SPARC_STATE: &str = include_str!("../../tests/fixtures/sparc64-sun4u-10.0.state.json");

fn blob(bytes: &[u8]) -> Blob {
    Blob::new_with_u8_array_sequence(&Array::of1(&Uint8Array::from(bytes))).unwrap()
}

fn opts(chunk: u32) -> JsValue {
    let o = js_sys::Object::new();
    Reflect::set(&o, &"chunkSize".into(), &chunk.into()).unwrap();
    o.into()
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).unwrap()
}

fn json(o: &JsValue, k: &str) -> serde_json::Value {
    serde_json::from_str(&get(o, k).as_string().unwrap()).unwrap()
}

async fn decode(bytes: &[u8], chunk: u32) -> JsValue {
    qevm_wasm::decode_file(blob(bytes), opts(chunk), None)
        .await
        .unwrap()
}

#[wasm_bindgen_test]
async fn pc_state_and_desc_equal_the_goldens() {
    // 65521: a prime, so records straddle chunks everywhere
    let r = decode(PC, 65521).await;
    assert!(get(&r, "error").is_null());
    assert_eq!(get(&r, "state").as_string().unwrap(), PC_STATE);
    assert_eq!(get(&r, "desc").as_string().unwrap(), PC_DESC);
    let s = json(&r, "summary");
    assert_eq!(s["machine"], "pc-i440fx-10.0");
    assert_eq!(s["page_size"], 4096);
    assert_eq!(s["total_bytes"], PC.len() as u64);
    // MANIFEST.tsv: ram page=152 zero=12282; 34 sections (33 devices + ram)
    let raw: u64 = s["ram_blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["raw"].as_u64().unwrap())
        .sum();
    let zero: u64 = s["ram_blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["zero"].as_u64().unwrap())
        .sum();
    assert_eq!((raw, zero), (152, 12282));
    assert_eq!(s["devices"].as_array().unwrap().len(), 33);
}

#[wasm_bindgen_test]
async fn tree_values_equal_the_golden_state() {
    let r = decode(PC, 1 << 20).await;
    let tree = json(&r, "tree");
    let golden: serde_json::Value = serde_json::from_str(PC_STATE).unwrap();
    let timer = tree
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "timer")
        .unwrap();
    let f = timer["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["n"] == "cpu_ticks_offset")
        .unwrap();
    assert_eq!(f["v"], golden["timer (0)"]["cpu_ticks_offset"]);
    assert_eq!(f["p"], "timer/cpu_ticks_offset");
    assert_eq!(f["t"], "int64");
    let unused = timer["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["n"] == "unused")
        .unwrap();
    assert_eq!(unused["b"], true);
    assert_eq!(unused["v"], golden["timer (0)"]["unused"]);
}

#[wasm_bindgen_test]
async fn s390x_and_sparc64_equal_the_goldens() {
    let r = decode(S390, 4096).await;
    assert!(get(&r, "error").is_null());
    assert_eq!(get(&r, "state").as_string().unwrap(), S390_STATE);
    assert_eq!(get(&r, "desc").as_string().unwrap(), S390_DESC);
    assert_eq!(json(&r, "summary")["machine"], "s390-ccw-virtio-10.0");
    let r = decode(SPARC, 1 << 20).await;
    assert_eq!(get(&r, "state").as_string().unwrap(), SPARC_STATE);
    assert_eq!(json(&r, "summary")["page_size"], 8192);
}

#[wasm_bindgen_test]
async fn progress_is_reported_up_to_the_total() {
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::<(f64, f64)>::new()));
    let s2 = seen.clone();
    let cb = Closure::<dyn FnMut(f64, f64)>::new(move |d, t| s2.borrow_mut().push((d, t)));
    let f: Function = cb.as_ref().unchecked_ref::<Function>().clone();
    qevm_wasm::decode_file(blob(S390), opts(100_000), Some(f))
        .await
        .unwrap();
    let seen = seen.borrow();
    assert!(seen.len() >= 3);
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0));
    assert_eq!(
        *seen.last().unwrap(),
        (S390.len() as f64, S390.len() as f64)
    );
}

#[wasm_bindgen_test]
async fn a_truncated_stream_reports_offset_and_keeps_the_summary() {
    let cut = &PC[..PC.len() * 3 / 4];
    let r = decode(cut, 65536).await;
    let e = json(&r, "error");
    assert!(e["message"].as_str().unwrap().contains("truncated"), "{e}");
    assert!(e["offset"].as_u64().unwrap() > 0);
    assert!(e["display"].as_str().unwrap().starts_with("at byte "));
    assert_eq!(json(&r, "summary")["machine"], "pc-i440fx-10.0");
}

#[wasm_bindgen_test]
async fn a_field_size_mismatch_names_the_field() {
    // the vmdesc claims 11 bytes for a 10-byte fpreg (same JSON length)
    let mut s = PC.to_vec();
    let (start, len) = qevm::vmdesc::find_trailer(&s).unwrap();
    let j = String::from_utf8(s[start..start + len].to_vec()).unwrap();
    let at = j.find("\"name\": \"env.fpregs\"").unwrap();
    let ten = start + at + j[at..].find("\"size\": 10").unwrap() + "\"size\": 1".len();
    s[ten] = b'1';
    let r = decode(&s, 1 << 20).await;
    let e = json(&r, "error");
    assert_eq!(e["section"], "cpu", "{e}");
    assert_eq!(e["record"], "SECTION_FULL");
    assert_eq!(e["path"], "cpu/env.fpregs[0]");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("where the vmdesc says 10"),
        "{e}"
    );
    assert_eq!(json(&r, "summary")["machine"], "pc-i440fx-10.0");
}

async fn bytes_of(b: &Blob) -> Vec<u8> {
    let ab = JsFuture::from(b.array_buffer()).await.unwrap();
    Uint8Array::new(&ab).to_vec()
}

#[wasm_bindgen_test]
async fn a_ram_block_image_equals_the_pages() {
    let want = reference::block_image(PC, b"pc.ram");
    let img = qevm_wasm::extract_block(blob(PC), "pc.ram".into(), opts(99_991), None)
        .await
        .unwrap();
    assert_eq!(img.size() as usize, 32 << 20);
    assert!(bytes_of(&img).await == want, "image differs");
    let e = qevm_wasm::extract_block(blob(PC), "nope".into(), JsValue::UNDEFINED, None).await;
    assert!(e.unwrap_err().as_string().unwrap().contains("no RAM block"));
}
