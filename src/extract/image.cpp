// Images (PNG, JPEG, TIFF with all its pages, BMP, GIF, WebP) through leptonica and OCR.
//
// Hostile input: the size in the file's header is checked against
// ExtractLimits::max_image_pixels before a pixel is decoded, so a tiny file that claims
// 50,000 x 50,000 pixels fails at once instead of allocating gigabytes. leptonica's decoders
// (libpng, libjpeg, libtiff, giflib, libwebp) reject damaged data with an error, which becomes
// "not a readable image". A multi-page TIFF is read one page at a time.
#include <allheaders.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "extract/formats.hpp"
#include "extract/ocr.hpp"

namespace betterdev::extract {
namespace {


Status Unreadable(std::string_view why = {}) {
  return Status::InvalidArgument("not a readable image: it is damaged, cut short or in a format that is not supported" +
                                 (why.empty() ? std::string() : " (" + std::string(why) + ")"));
}

Status CheckPixels(int64_t width, int64_t height, int64_t limit) {
  if (width <= 0 || height <= 0) return Unreadable("no size in its header");
  if (width * height <= limit) return Status::Ok();
  auto megapixels = [](int64_t n) { return std::to_string((n + 500'000) / 1'000'000); };
  return Status::InvalidArgument("the image is " + std::to_string(width) + " x " + std::to_string(height) +
                                 " pixels (" + megapixels(width * height) + " megapixels); the limit is " +
                                 megapixels(limit) + " megapixels");
}

// A resolution from the file's header, when it is a plausible scan or photo resolution.
int PlausibleDpi(const Pix* pix) {
  const int dpi = pixGetXRes(const_cast<Pix*>(pix));
  return dpi >= 70 && dpi <= 2400 ? dpi : 0;
}

class ImageExtractor final : public Extractor {
 public:
  explicit ImageExtractor(OcrOptions ocr) : ocr_(std::move(ocr)) {}

  Status Extract(const InputFile& file, const ExtractLimits& limits, PageSink& sink) override {
    QuietLeptonica();
    const auto* data = reinterpret_cast<const l_uint8*>(file.bytes().data());
    const size_t size = file.bytes().size();
    if (size < 12) return Unreadable();

    l_int32 format = IFF_UNKNOWN;
    if (findFileFormatBuffer(data, &format) != 0 || format == IFF_UNKNOWN) return Unreadable();
    int pages = 1;
    if (L_FORMAT_IS_TIFF(format)) {
      // leptonica counts TIFF pages from a stream only: one of its own over the descriptor.
      const int fd = ::dup(file.fd());
      std::unique_ptr<std::FILE, FileCloser> f(fd < 0 ? nullptr : ::fdopen(fd, "rb"));
      if (!f && fd >= 0) ::close(fd);
      l_int32 n = 0;
      if (!f || std::fseek(f.get(), 0, SEEK_SET) != 0 || tiffGetCount(f.get(), &n) != 0 || n <= 0)
        return Unreadable("no pages in the TIFF file");
      pages = n;
    }
    if (pages > limits.max_pages) {
      return Status::InvalidArgument("document has " + std::to_string(pages) + " pages; the limit is " +
                                     std::to_string(limits.max_pages));
    }
    Result<std::unique_ptr<OcrEngine>> engine = OcrEngine::Open(ocr_);
    if (!engine.ok()) return engine.status();
    for (int i = 0; i < pages; ++i) {
      l_int32 w = 0, h = 0, bps = 0, spp = 0, cmap = 0, res = 0, fmt = 0;
      const l_int32 rc = L_FORMAT_IS_TIFF(format)
                             ? readHeaderMemTiff(data, size, i, &w, &h, &bps, &spp, &res, &cmap, &fmt)
                             : pixReadHeaderMem(data, size, &fmt, &w, &h, &bps, &spp, &cmap);
      if (rc != 0) return Unreadable(pages > 1 ? "page " + std::to_string(i + 1) : std::string());
      BD_RETURN_IF_ERROR(CheckPixels(w, h, limits.max_image_pixels));
      PixPtr pix(L_FORMAT_IS_TIFF(format) ? pixReadMemTiff(data, size, i) : pixReadMem(data, size));
      if (!pix) return Unreadable(pages > 1 ? "page " + std::to_string(i + 1) : std::string());
      // A decoder may report a different size than the header did: check what was decoded.
      BD_RETURN_IF_ERROR(CheckPixels(pixGetWidth(pix.get()), pixGetHeight(pix.get()), limits.max_image_pixels));
      Result<OcrPage> page = (*engine)->Read(pix.get(), PlausibleDpi(pix.get()), limits.ocr_page_timeout_seconds);
      if (!page.ok()) {
        return pages > 1 ? Status(page.status().code(), "page " + std::to_string(i + 1) + ": " + page.status().message())
                         : page.status();
      }
      pix.reset();
      sink.OnOcr(i + 1, page->mean_confidence);
      BD_RETURN_IF_ERROR(sink.OnPage(i + 1, pages, page->text));
    }
    return Status::Ok();
  }

 private:
  OcrOptions ocr_;
};

}  // namespace

std::unique_ptr<Extractor> NewImageExtractor(const OcrOptions& ocr) { return std::make_unique<ImageExtractor>(ocr); }

}  // namespace betterdev::extract
