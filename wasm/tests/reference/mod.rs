//! The reference a RAM block image is checked against: the core's slice
//! decoder, with the block's pages applied in stream order.

/// The image of `block` in `stream`, as the core's pages build it
/// (XBZRLE deltas and zlib pages decoded by the core).
pub fn block_image(stream: &[u8], block: &[u8]) -> Vec<u8> {
    struct Image<'b> {
        block: &'b [u8],
        bytes: Vec<u8>,
    }
    impl qevm::Visitor for Image<'_> {
        fn ram_block(&mut self, b: &qevm::RamBlock<'_>) {
            if b.name == self.block {
                self.bytes = vec![0; b.used_length as usize];
            }
        }
        fn ram_page(&mut self, p: &qevm::RamPage<'_>) {
            if p.block != self.block {
                return;
            }
            let a = p.addr as usize;
            let page = &mut self.bytes[a..a + p.page_size as usize];
            p.data.decode_into(page).expect("a page that decodes");
        }
    }
    let mut image = Image {
        block,
        bytes: Vec::new(),
    };
    qevm::decode(stream, &mut image).unwrap();
    image.bytes
}
