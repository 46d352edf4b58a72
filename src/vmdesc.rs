//! The vmdesc: QEMU's JSON description of every device section, found after
//! the stream's EOF. This module validates it once, indexes its devices by
//! (name, instance id) in a fixed-size table, and reads field and struct
//! descriptions lazily by position.

use crate::json::{self, Json, JsonError, JsonErrorKind, JsonStr};
use crate::Limits;

/// Devices a [`VmDesc`] indexes by default.
pub const DEFAULT_DEVICES: usize = 512;

/// One device entry of the vmdesc.
#[derive(Debug, Clone, Copy)]
pub struct DeviceDesc<'d> {
    /// The section idstr, e.g. `0000:00:03.0/e1000`.
    pub name: JsonStr<'d>,
    /// The section instance id.
    pub instance_id: u32,
    /// Position of the device object in the JSON.
    pub pos: usize,
}

/// A validated, indexed vmdesc. `N` bounds the number of devices.
pub struct VmDesc<'d, const N: usize = DEFAULT_DEVICES> {
    json: Json<'d>,
    page_size: Option<u64>,
    configuration: Option<usize>,
    devices: heapless::Vec<DeviceDesc<'d>, N>,
}

fn missing(p: usize, k: &'static str) -> JsonError {
    JsonError {
        offset: p,
        kind: JsonErrorKind::Missing(k),
    }
}

fn wrong(p: usize, k: &'static str) -> JsonError {
    JsonError {
        offset: p,
        kind: JsonErrorKind::WrongType(k),
    }
}

impl<'d, const N: usize> VmDesc<'d, N> {
    /// Validates the JSON text of a vmdesc and indexes its devices.
    pub fn parse(src: &'d [u8]) -> Result<Self, JsonError> {
        Self::parse_with(src, &Limits::default())
    }

    /// Like [`VmDesc::parse`], with a lower JSON depth limit.
    pub fn parse_with(src: &'d [u8], limits: &Limits) -> Result<Self, JsonError> {
        json::validate_depth(src, limits.json_depth)?;
        let json = Json::new(src);
        let root = json.root();
        if !json.is_object(root) {
            return Err(wrong(root, "vmdesc"));
        }
        let page_size = match json.get(root, "page_size") {
            Some(p) => Some(
                json.u64_at(p)
                    .filter(|s| s.is_power_of_two())
                    .ok_or(wrong(p, "page_size"))?,
            ),
            None => None,
        };
        let configuration = json.get(root, "configuration");
        if let Some(c) = configuration {
            if !json.is_object(c) {
                return Err(wrong(c, "configuration"));
            }
        }
        let devs = json.get(root, "devices").ok_or(missing(root, "devices"))?;
        if !json.is_array(devs) {
            return Err(wrong(devs, "devices"));
        }
        let mut devices: heapless::Vec<DeviceDesc<'d>, N> = heapless::Vec::new();
        for pos in json.items(devs) {
            if !json.is_object(pos) {
                return Err(wrong(pos, "devices"));
            }
            let name = json
                .get(pos, "name")
                .ok_or(missing(pos, "name"))
                .and_then(|p| json.str_at(p).ok_or(wrong(p, "name")))?;
            let instance_id = json
                .get(pos, "instance_id")
                .ok_or(missing(pos, "instance_id"))
                .and_then(|p| {
                    json.u64_at(p)
                        .and_then(|v| u32::try_from(v).ok())
                        .ok_or(wrong(p, "instance_id"))
                })?;
            if devices
                .iter()
                .any(|d| d.instance_id == instance_id && d.name == name)
            {
                return Err(JsonError {
                    offset: pos,
                    kind: JsonErrorKind::DuplicateDevice,
                });
            }
            devices
                .push(DeviceDesc {
                    name,
                    instance_id,
                    pos,
                })
                .map_err(|_| JsonError {
                    offset: pos,
                    kind: JsonErrorKind::TooManyDevices,
                })?;
        }
        Ok(VmDesc {
            json,
            page_size,
            configuration,
            devices,
        })
    }

    /// The JSON navigator.
    pub fn json(&self) -> Json<'d> {
        self.json
    }

    /// The target page size ("page_size"), if given.
    pub fn page_size(&self) -> Option<u64> {
        self.page_size
    }

    /// The description of the CONFIGURATION record, if given.
    pub fn configuration(&self) -> Option<StructDesc<'d>> {
        self.configuration.map(|p| StructDesc::at(self.json, p))
    }

    /// All devices in vmdesc order.
    pub fn devices(&self) -> &[DeviceDesc<'d>] {
        &self.devices
    }

    /// The device described for section `name` / `instance_id`.
    pub fn device(&self, name: &[u8], instance_id: u32) -> Option<&DeviceDesc<'d>> {
        self.devices
            .iter()
            .find(|d| d.instance_id == instance_id && d.name.eq_bytes(name))
    }

    /// The struct description of a device.
    pub fn device_struct(&self, d: &DeviceDesc<'d>) -> StructDesc<'d> {
        StructDesc::at(self.json, d.pos)
    }
}

/// A VMSD description: a device, a struct field's "struct", or a subsection.
#[derive(Debug, Clone, Copy)]
pub struct StructDesc<'d> {
    /// Its "vmsd_name", if given.
    pub vmsd_name: Option<JsonStr<'d>>,
    /// Its "version", if given.
    pub version: Option<u64>,
    /// Position of the "fields" array.
    pub fields: Option<usize>,
    /// Position of the "subsections" array.
    pub subsections: Option<usize>,
    /// Position of the object itself.
    pub pos: usize,
}

impl<'d> StructDesc<'d> {
    /// Reads the description in the object at `pos` (one pass).
    pub fn at(json: Json<'d>, pos: usize) -> Self {
        let mut s = StructDesc {
            vmsd_name: None,
            version: None,
            fields: None,
            subsections: None,
            pos,
        };
        for (k, v) in json.members(pos) {
            match k.raw() {
                b"vmsd_name" => s.vmsd_name = json.str_at(v),
                b"version" => s.version = json.u64_at(v),
                b"fields" if json.is_array(v) => s.fields = Some(v),
                b"subsections" if json.is_array(v) => s.subsections = Some(v),
                _ => {}
            }
        }
        s
    }
}

/// One entry of a "fields" array.
#[derive(Debug, Clone, Copy)]
pub struct FieldDesc<'d> {
    /// "name" (duplicates in one VMSD are already `name[k]`).
    pub name: JsonStr<'d>,
    /// "type", e.g. `uint32`, `struct`, `buffer`.
    pub type_name: JsonStr<'d>,
    /// "size": stream bytes of the (first) element.
    pub size: u64,
    /// "array_len": this entry stands for that many elements.
    pub array_len: Option<u64>,
    /// "index": this entry is element `index` of an array.
    pub index: Option<u64>,
    /// Position of the nested "struct" object, if any.
    pub struct_pos: Option<usize>,
    /// Position of the field object itself.
    pub pos: usize,
}

impl<'d> FieldDesc<'d> {
    /// Reads the field object at `pos` (one pass over its members).
    pub fn at(json: Json<'d>, pos: usize) -> Result<Self, JsonError> {
        let (mut name, mut type_name, mut size) = (None, None, None);
        let mut f = FieldDesc {
            name: JsonStr::default(),
            type_name: JsonStr::default(),
            size: 0,
            array_len: None,
            index: None,
            struct_pos: None,
            pos,
        };
        if !json.is_object(pos) {
            return Err(wrong(pos, "fields"));
        }
        for (k, v) in json.members(pos) {
            match k.raw() {
                b"name" => name = Some(json.str_at(v).ok_or(wrong(v, "name"))?),
                b"type" => type_name = Some(json.str_at(v).ok_or(wrong(v, "type"))?),
                b"size" => size = Some(json.u64_at(v).ok_or(wrong(v, "size"))?),
                b"array_len" => f.array_len = Some(json.u64_at(v).ok_or(wrong(v, "array_len"))?),
                b"index" => f.index = Some(json.u64_at(v).ok_or(wrong(v, "index"))?),
                b"struct" if json.is_object(v) => f.struct_pos = Some(v),
                _ => {}
            }
        }
        f.name = name.ok_or(missing(pos, "name"))?;
        f.type_name = type_name.ok_or(missing(pos, "type"))?;
        f.size = size.ok_or(missing(pos, "size"))?;
        Ok(f)
    }
}

/// Finds the VMDESCRIPTION trailer at the end of a stream: returns the
/// JSON's start and length inside `tail`, whose last byte must be the
/// stream's last byte. Pass the whole stream or its last few megabytes.
pub fn find_trailer(tail: &[u8]) -> Option<(usize, usize)> {
    // 0x06, be32 length, then JSON that runs exactly to the end. 0x06 can
    // not occur raw inside valid JSON, so the hit nearest the end is it.
    let n = tail.len();
    (5..n).rev().find_map(|p| {
        let len = u32::from_be_bytes([tail[p - 4], tail[p - 3], tail[p - 2], tail[p - 1]]) as usize;
        (tail[p - 5] == 0x06 && len == n - p && tail[p] == b'{').then_some((p, len))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_is_found_from_the_end() {
        let mut s = [0u8; 32];
        let json = br#"{"devices":[]}"#;
        let start = s.len() - json.len();
        s[start - 5] = 6;
        s[start - 4..start].copy_from_slice(&(json.len() as u32).to_be_bytes());
        s[start..].copy_from_slice(json);
        assert_eq!(find_trailer(&s), Some((start, json.len())));
        let d: VmDesc<'_, 4> = VmDesc::parse(json).unwrap();
        assert!(d.devices().is_empty());
    }

    #[test]
    fn duplicate_devices_are_rejected() {
        let j = br#"{"devices":[{"name":"a","instance_id":0,"fields":[]},{"name":"a","instance_id":0,"fields":[]}]}"#;
        assert_eq!(
            VmDesc::<4>::parse(j).err().unwrap().kind,
            JsonErrorKind::DuplicateDevice
        );
        let j = br#"{"devices":[{"name":"a","instance_id":0},{"name":"b","instance_id":0}]}"#;
        assert_eq!(
            VmDesc::<1>::parse(j).err().unwrap().kind,
            JsonErrorKind::TooManyDevices
        );
    }
}
